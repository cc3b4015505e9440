use hookhost::runtime::{Outcome, Plugin, Runtime, RuntimeConfig, RuntimeError};
use hookhost_tests::receiver::Receiver;
use hookhost_tests::{Sandbox, block_on, event, log_text, plugins, runtime};

fn invalid_reason(result: Result<impl std::fmt::Debug, RuntimeError>) -> String {
    match result {
        Err(RuntimeError::InvalidPlugin(reason)) => reason,
        other => panic!("expected InvalidPlugin, got {other:?}"),
    }
}

#[test]
fn bytes_that_are_not_wasm_are_refused_with_the_reason() {
    block_on(async {
        let reason = invalid_reason(runtime().load(b"<html>not wasm</html>").await);
        assert!(reason.contains("not a WebAssembly binary"), "{reason}");
    })
}

#[test]
fn a_core_module_is_refused_with_a_hint_to_build_a_component() {
    block_on(async {
        let reason = invalid_reason(runtime().load(b"\0asm\x01\0\0\0").await);
        assert!(reason.contains("core WebAssembly module"), "{reason}");
        assert!(reason.contains("wasm32-wasip2"), "{reason}");
    })
}

#[test]
fn a_component_without_the_handle_export_is_refused_naming_it() {
    block_on(async {
        let wasm = std::fs::read(plugins::NO_HANDLER).unwrap();
        let reason = invalid_reason(runtime().load(&wasm).await);
        assert!(reason.contains("does not export `handle`"), "{reason}");
    })
}

#[test]
fn a_component_importing_something_the_host_does_not_grant_is_refused_naming_it() {
    block_on(async {
        let wasm = std::fs::read(plugins::FOREIGN_IMPORT).unwrap();
        let reason = invalid_reason(runtime().load(&wasm).await);
        assert!(reason.contains("evil:net/raw-socket"), "{reason}");
    })
}

#[test]
fn a_component_is_compiled_once_and_not_again_after_a_restart() {
    block_on(async {
        let cache = tempfile::tempdir().unwrap();
        let config = RuntimeConfig {
            cache_dir: Some(cache.path().to_owned()),
            ..RuntimeConfig::default()
        };
        let wasm = std::fs::read(plugins::NOOP).unwrap();

        let first = Runtime::new(&config).unwrap();
        first.load(&wasm).await.unwrap();
        first.load(&wasm).await.unwrap();
        assert_eq!(first.compilations(), 1);
        drop(first);

        let restarted = Runtime::new(&config).unwrap();
        let plugin = restarted.load(&wasm).await.unwrap();
        assert_eq!(restarted.compilations(), 0, "loaded from the disk cache");
        runs_ok_on(&restarted, &plugin).await;
    })
}

/// Runs `plugin` once on `runtime`, with a local receiver as its config
/// `url`, checks that it returned ok, and returns how many requests it sent.
async fn runs_ok_on(runtime: &Runtime, plugin: &Plugin) -> usize {
    let receiver = Receiver::start().await;
    let sandbox = Sandbox::new()
        .await
        .config("url", &receiver.url("/echo"))
        .reach(&receiver);
    let inv = runtime
        .invoke(
            plugin,
            event("{}", None),
            &sandbox.grants(),
            &sandbox.limits,
            sandbox.store.clone(),
        )
        .await;
    assert_eq!(inv.outcome, Outcome::Ok, "{}", log_text(&inv));
    receiver.requests().len()
}

/// A component of `instances` instances of one core module with `memories`
/// memories, encoded by hand: the smallest thing that asks the instance pool
/// for more than its share.
fn greedy_component(instances: u8, memories: u8) -> Vec<u8> {
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    if memories > 0 {
        let mut section = vec![memories];
        for _ in 0..memories {
            section.extend([0x00, 0x01]);
        }
        module.extend([0x05, section.len() as u8]);
        module.extend(section);
    }
    let mut wasm = b"\0asm\x0d\0\x01\0".to_vec();
    wasm.extend([0x01, module.len() as u8]);
    wasm.extend(module);
    let mut instances_section = vec![instances];
    for _ in 0..instances {
        instances_section.extend([0x00, 0x00, 0x00]);
    }
    wasm.extend([0x02, instances_section.len() as u8]);
    wasm.extend(instances_section);
    wasm
}

#[test]
fn a_component_asking_for_more_than_its_share_of_the_pool_is_refused_naming_the_counts() {
    block_on(async {
        let reason = invalid_reason(runtime().load(&greedy_component(17, 0)).await);
        assert!(
            reason.contains("17 core module instances") && reason.contains("maximum of 16"),
            "{reason}"
        );
        let reason = invalid_reason(runtime().load(&greedy_component(3, 1)).await);
        assert!(
            reason.contains("3 Wasm linear memories") && reason.contains("maximum of 2"),
            "{reason}"
        );
    })
}

#[test]
fn a_refused_component_leaves_nothing_in_the_compile_cache() {
    block_on(async {
        let cache = tempfile::tempdir().unwrap();
        let config = RuntimeConfig {
            cache_dir: Some(cache.path().to_owned()),
            ..RuntimeConfig::default()
        };
        let runtime = Runtime::new(&config).unwrap();
        for wasm in [
            std::fs::read(plugins::NO_HANDLER).unwrap(),
            std::fs::read(plugins::FOREIGN_IMPORT).unwrap(),
            greedy_component(17, 0),
        ] {
            invalid_reason(runtime.load(&wasm).await);
        }
        // Nothing but the (empty) function cache's directory.
        let left: Vec<_> = walk(cache.path());
        assert_eq!(left, Vec::<std::path::PathBuf>::new());
        let accepted = std::fs::read(plugins::NOOP).unwrap();
        runtime.load(&accepted).await.unwrap();
        assert!(!walk(cache.path()).is_empty(), "an accepted one is kept");
    })
}

/// The files under `dir`, at any depth.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .flat_map(|path| {
            if path.is_dir() {
                walk(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

#[test]
fn a_new_component_compiles_only_the_functions_a_host_has_not_compiled_before() {
    block_on(async {
        let cache = tempfile::tempdir().unwrap();
        let config = RuntimeConfig {
            cache_dir: Some(cache.path().to_owned()),
            ..RuntimeConfig::default()
        };
        let first = Runtime::new(&config).unwrap();
        first
            .load(&std::fs::read(plugins::NOOP).unwrap())
            .await
            .unwrap();
        drop(first);

        // Another component built with the same SDK and standard library,
        // on a restarted host: their shared functions come from the cache,
        // and it runs as compiled from scratch.
        let restarted = Runtime::new(&config).unwrap();
        let echo = restarted
            .load(&std::fs::read(plugins::ECHO).unwrap())
            .await
            .unwrap();
        assert!(restarted.function_cache_hits() > 0);
        assert_eq!(
            runs_ok_on(&restarted, &echo).await,
            1,
            "echo posted its event"
        );
    })
}
