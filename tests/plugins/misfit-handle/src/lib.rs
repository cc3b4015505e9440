// Test plugin: exports `handle` with a type of no hookhost world and imports
// nothing of the host's, so the host must try every version it runs and say
// why each refuses it.

wit_bindgen::generate!({
    inline: r#"
        package test:misfit-handle;

        world handler {
            export handle: func(body: string) -> result<_, string>;
        }
    "#,
});

struct Component;

impl Guest for Component {
    fn handle(_body: String) -> Result<(), String> {
        Ok(())
    }
}

export!(Component);
