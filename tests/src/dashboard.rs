//! The dashboard as a browser sees it: a signed-in session over plain HTTP
//! (its cookie and the CSRF token its forms carry), and the Playwright
//! script in `tests/browser/` run in Debian's chromium.

use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;

/// A client that shows redirects instead of following them.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

/// One answer: status, `Location`, `Set-Cookie` and the text.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookie: Option<String>,
    pub text: String,
}

async fn answer(response: reqwest::Response) -> Answer {
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let (location, set_cookie) = (header(LOCATION), header(SET_COOKIE));
    Answer {
        status: response.status().as_u16(),
        location,
        set_cookie,
        text: response.text().await.expect("text"),
    }
}

/// A signed-in browser: its session cookie and its forms' token.
pub struct Session {
    base: String,
    client: reqwest::Client,
    pub cookie: String,
    pub csrf: String,
}

/// Signs in at `base` (`http://addr`) with `token`.
pub async fn sign_in(base: &str, token: &str) -> Session {
    let client = client();
    let signed = answer(
        client
            .post(format!("{base}/ui/login"))
            .form(&[("token", token), ("next", "/ui/")])
            .send()
            .await
            .expect("sign in"),
    )
    .await;
    assert_eq!(signed.status, 303, "sign in: {}", signed.text);
    let cookie = signed
        .set_cookie
        .expect("a session cookie")
        .split(';')
        .next()
        .expect("name=value")
        .to_owned();
    let mut session = Session {
        base: base.to_owned(),
        client,
        cookie,
        csrf: String::new(),
    };
    let mut page = session
        .get(signed.location.as_deref().unwrap_or("/ui"))
        .await;
    while let Some(next) = page.location.take() {
        page = session.get(&next).await;
    }
    session.csrf = csrf_of(&page.text).expect("a signed-in page carries the form token");
    session
}

/// The CSRF token in a page's forms.
pub fn csrf_of(html: &str) -> Option<String> {
    let at = html.find(r#"name="csrf" value=""#)? + r#"name="csrf" value=""#.len();
    Some(html[at..].split('"').next()?.to_owned())
}

impl Session {
    /// `GET path` with the session's cookie.
    pub async fn get(&self, path: &str) -> Answer {
        answer(
            self.client
                .get(format!("{}{path}", self.base))
                .header(COOKIE, &self.cookie)
                .send()
                .await
                .expect("get"),
        )
        .await
    }

    /// Posts a form to `path` with the session's cookie; the form's own
    /// `csrf` field, if any, is sent as given.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        answer(
            self.client
                .post(format!("{}{path}", self.base))
                .header(COOKIE, &self.cookie)
                .form(form)
                .send()
                .await
                .expect("post"),
        )
        .await
    }
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the repository")
        .to_owned()
}

/// Runs `tests/browser/<script>` in node with `setup` as its
/// `HOOKHOST_UI_TEST`, installing playwright-core first when its lockfile
/// is newer than what is installed; fails with the script's output.
pub fn run_browser(script: &str, setup: &serde_json::Value) {
    let dir = repository().join("tests/browser");
    let installed = dir.join("node_modules/.package-lock.json");
    let stale = match (
        std::fs::metadata(&installed).and_then(|m| m.modified()),
        std::fs::metadata(dir.join("package-lock.json")).and_then(|m| m.modified()),
    ) {
        (Ok(installed), Ok(locked)) => installed < locked,
        _ => true,
    };
    if stale {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .output()
            .expect("run npm");
        assert!(
            out.status.success(),
            "npm ci in tests/browser failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = Command::new("node")
        .arg(script)
        .current_dir(&dir)
        .env("HOOKHOST_UI_TEST", setup.to_string())
        .output()
        .expect("run node");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the browser test failed:\n{report}");
    println!("{report}");
}

/// Where the browser test writes its screenshots: `docs/screenshots/`
/// when `HOOKHOST_UPDATE_SCREENSHOTS` is set (to commit them), under
/// `target/` otherwise, so a test run leaves the checkout as it was.
pub fn screenshots() -> PathBuf {
    if std::env::var_os("HOOKHOST_UPDATE_SCREENSHOTS").is_some() {
        repository().join("docs/screenshots")
    } else {
        repository().join("target/dashboard-screenshots")
    }
}
