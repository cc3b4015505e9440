// Test plugin: exports `handle` but imports an interface hookhost does not
// provide, so the host must refuse it and name the import.

wit_bindgen::generate!({
    inline: r#"
        package test:foreign-import;

        package evil:net {
            interface raw-socket {
                connect: func(address: string) -> u32;
            }
        }

        world handler {
            import evil:net/raw-socket;
            export handle: func(body: list<u8>) -> u32;
        }
    "#,
    generate_all,
});

struct Component;

impl Guest for Component {
    fn handle(_body: Vec<u8>) -> u32 {
        evil::net::raw_socket::connect("10.0.0.1:22")
    }
}

export!(Component);
