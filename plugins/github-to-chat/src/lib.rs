//! Posts GitHub `issues`, `pull_request` and `push` events to a chat webhook
//! (Slack reads `text`, Discord reads `content`).
//!
//! See README.md for the configuration and the exact request.

use hookhost_sdk::prelude::*;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

/// The message body: the same text for Slack and for Discord.
#[derive(Serialize)]
struct ChatMessage<'a> {
    text: &'a str,
    content: &'a str,
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
}

#[derive(Deserialize)]
struct User {
    login: String,
}

#[derive(Deserialize)]
struct IssuesEvent {
    action: String,
    issue: Issue,
    repository: Repository,
    sender: User,
}

#[derive(Deserialize)]
struct Issue {
    number: u64,
    title: String,
    html_url: String,
}

#[derive(Deserialize)]
struct PullRequestEvent {
    action: String,
    pull_request: PullRequest,
    repository: Repository,
    sender: User,
}

#[derive(Deserialize)]
struct PullRequest {
    number: u64,
    title: String,
    html_url: String,
    #[serde(default)]
    merged: Option<bool>,
}

#[derive(Deserialize)]
struct PushEvent {
    #[serde(rename = "ref")]
    git_ref: String,
    compare: String,
    commits: Vec<IgnoredAny>,
    pusher: Pusher,
    repository: Repository,
}

#[derive(Deserialize)]
struct Pusher {
    name: String,
}

/// What to do with one event.
#[derive(Debug, PartialEq)]
enum Action {
    /// An event this handler does not announce: log its type and succeed.
    Ignore(String),
    /// Post this text to the chat.
    Post(String),
}

#[handler]
fn handle(event: Event) -> Result<(), HandlerError> {
    let text = match action(&event)? {
        Action::Ignore(event_type) => {
            info!("ignoring {event_type}");
            return Ok(());
        }
        Action::Post(text) => text,
    };
    let url = config::get("chat_url").ok_or_else(|| reject("chat_url not set"))?;
    http::post_json(
        &url,
        &ChatMessage {
            text: &text,
            content: &text,
        },
    )?;
    info!("posted: {text}");
    Ok(())
}

fn action(event: &Event) -> Result<Action, HandlerError> {
    let event_type = event
        .event_type()
        .or_else(|| event.header("x-github-event"))
        .unwrap_or("unknown");
    let text = match event_type {
        "issues" => {
            let e: IssuesEvent = event.json()?;
            format!(
                "[{}] {} {} issue #{}: {} {}",
                e.repository.full_name,
                e.sender.login,
                e.action,
                e.issue.number,
                e.issue.title,
                e.issue.html_url
            )
        }
        "pull_request" => {
            let e: PullRequestEvent = event.json()?;
            let verb = if e.action == "closed" && e.pull_request.merged == Some(true) {
                "merged"
            } else {
                e.action.as_str()
            };
            format!(
                "[{}] {} {verb} pull request #{}: {} {}",
                e.repository.full_name,
                e.sender.login,
                e.pull_request.number,
                e.pull_request.title,
                e.pull_request.html_url
            )
        }
        "push" => {
            let e: PushEvent = event.json()?;
            let n = e.commits.len();
            let noun = if n == 1 { "commit" } else { "commits" };
            let branch = e.git_ref.strip_prefix("refs/heads/").unwrap_or(&e.git_ref);
            format!(
                "[{}] {} pushed {n} {noun} to {branch}: {}",
                e.repository.full_name, e.pusher.name, e.compare
            )
        }
        other => return Ok(Action::Ignore(other.to_string())),
    };
    Ok(Action::Post(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_type: &str, body: &[u8]) -> Event {
        Event {
            provider: "github".into(),
            event_type: Some(event_type.into()),
            body: body.to_vec(),
            ..Event::default()
        }
    }

    fn body(event: &Event) -> String {
        let Action::Post(text) = action(event).unwrap() else {
            panic!("not posted");
        };
        serde_json::to_string(&ChatMessage {
            text: &text,
            content: &text,
        })
        .unwrap()
    }

    #[test]
    fn issues_fixture() {
        let e = event("issues", include_bytes!("../fixtures/issues.json"));
        assert_eq!(
            body(&e),
            r#"{"text":"[octo-org/hello-world] octocat opened issue #1347: Found a bug https://github.com/octo-org/hello-world/issues/1347","content":"[octo-org/hello-world] octocat opened issue #1347: Found a bug https://github.com/octo-org/hello-world/issues/1347"}"#
        );
    }

    #[test]
    fn pull_request_fixture() {
        let e = event(
            "pull_request",
            include_bytes!("../fixtures/pull_request.json"),
        );
        assert_eq!(
            body(&e),
            r#"{"text":"[octo-org/hello-world] hubot merged pull request #1348: Fix the login redirect loop https://github.com/octo-org/hello-world/pull/1348","content":"[octo-org/hello-world] hubot merged pull request #1348: Fix the login redirect loop https://github.com/octo-org/hello-world/pull/1348"}"#
        );
    }

    #[test]
    fn push_fixture() {
        let e = event("push", include_bytes!("../fixtures/push.json"));
        assert_eq!(
            body(&e),
            r#"{"text":"[octo-org/hello-world] octocat pushed 2 commits to main: https://github.com/octo-org/hello-world/compare/6113728f27ae...0d1a26e67d8f","content":"[octo-org/hello-world] octocat pushed 2 commits to main: https://github.com/octo-org/hello-world/compare/6113728f27ae...0d1a26e67d8f"}"#
        );
    }

    #[test]
    fn closed_without_merge_and_single_commit() {
        let pr = br#"{"action":"closed","number":7,"pull_request":{"number":7,"title":"T","html_url":"u","merged":false},
            "repository":{"full_name":"o/r"},"sender":{"login":"me"}}"#;
        let Action::Post(text) = action(&event("pull_request", pr)).unwrap() else {
            panic!()
        };
        assert_eq!(text, "[o/r] me closed pull request #7: T u");
        let push = br#"{"ref":"refs/tags/v1","compare":"c","commits":[{}],"pusher":{"name":"me"},
            "repository":{"full_name":"o/r"}}"#;
        let Action::Post(text) = action(&event("push", push)).unwrap() else {
            panic!()
        };
        assert_eq!(text, "[o/r] me pushed 1 commit to refs/tags/v1: c");
    }

    #[test]
    fn other_events_are_ignored() {
        let e = event("ping", br#"{"zen":"Keep it logically awesome."}"#);
        assert_eq!(action(&e).unwrap(), Action::Ignore("ping".into()));
    }
}
