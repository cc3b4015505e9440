// Test plugin: a well-formed component that exports `greet` instead of `handle`,
// so the host must refuse it and say which export is missing.

wit_bindgen::generate!({
    inline: r#"
        package test:no-handler;

        world greeter {
            export greet: func() -> string;
        }
    "#,
});

struct Component;

impl Guest for Component {
    fn greet() -> String {
        "hello".into()
    }
}

export!(Component);
