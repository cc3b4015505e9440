//! The page shell every dashboard page shares, and the small pieces pages
//! are made of (status badges, times, field errors).

use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use super::session::Viewer;
use crate::api::Caller;
use crate::ids::TenantId;
use crate::problem::FieldError;
use crate::store::DeliveryStatus;

/// Which part of the dashboard a page belongs to, for the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Overview,
    Deliveries,
    Endpoints,
    Plugins,
    Tenants,
}

/// A whole page.
pub struct Page {
    title: String,
    body: Markup,
    nav: Option<(Viewer, Option<TenantId>, Section)>,
}

impl Page {
    /// A page of a signed-in viewer, in a tenant's context or the operator's.
    pub fn new(
        title: impl Into<String>,
        viewer: &Viewer,
        tenant: Option<&TenantId>,
        section: Section,
        body: Markup,
    ) -> Self {
        Self {
            title: title.into(),
            body,
            nav: Some((viewer.clone(), tenant.cloned(), section)),
        }
    }

    /// A page without navigation (signing in, errors).
    pub fn bare(title: impl Into<String>, body: Markup) -> Self {
        Self {
            title: title.into(),
            body,
            nav: None,
        }
    }
}

fn nav(viewer: &Viewer, tenant: Option<&TenantId>, section: Section) -> Markup {
    let link = |href: String, label: &str, this: Section| {
        html! {
            a href=(href) aria-current=[(section == this).then_some("page")] { (label) }
        }
    };
    html! {
        nav.top aria-label="Main" {
            a.brand href="/ui" { "hookhost" }
            @if let Some(t) = tenant {
                (link(format!("/ui/t/{t}"), "Overview", Section::Overview))
                (link(format!("/ui/t/{t}/deliveries"), "Deliveries", Section::Deliveries))
                (link(format!("/ui/t/{t}/endpoints"), "Endpoints", Section::Endpoints))
                (link(format!("/ui/t/{t}/plugins"), "Plugins", Section::Plugins))
            }
            @if viewer.caller == Caller::Operator {
                (link("/ui/tenants".into(), "Tenants", Section::Tenants))
            }
            span.who {
                @match (&viewer.caller, tenant) {
                    (Caller::Operator, Some(t)) => { "operator · " strong { (t) } }
                    (Caller::Operator, None) => { "operator" }
                    (Caller::Tenant(t), _) => { "tenant " strong { (t) } }
                }
            }
            form.signout method="post" action="/ui/logout" {
                input type="hidden" name="csrf" value=(viewer.csrf);
                button type="submit" { "Sign out" }
            }
        }
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let markup = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (self.title) " · hookhost" }
                    link rel="stylesheet" href=(super::assets::CSS_PATH);
                    script src=(super::assets::JS_PATH) defer {}
                }
                body {
                    a.skip href="#main" { "Skip to content" }
                    @if let Some((viewer, tenant, section)) = &self.nav {
                        (nav(viewer, tenant.as_ref(), *section))
                    }
                    div #main tabindex="-1" { (self.body) }
                }
            }
        };
        Html(markup.into_string()).into_response()
    }
}

/// A page that says one thing.
pub fn message(title: &str, text: &str) -> Page {
    Page::bare(
        title,
        html! {
            main.narrow {
                h1 { (title) }
                p { (text) }
                p { a href="/ui" { "Back to the dashboard" } }
            }
        },
    )
}

/// A delivery status as a badge; its colour says whether it needs a look.
pub fn status(status: DeliveryStatus) -> Markup {
    let class = match status {
        DeliveryStatus::Succeeded => "ok",
        DeliveryStatus::Dead => "bad",
        DeliveryStatus::Retrying => "warn",
        DeliveryStatus::Filtered | DeliveryStatus::Paused | DeliveryStatus::Waiting => "idle",
        DeliveryStatus::Pending | DeliveryStatus::Running => "busy",
    };
    html! { span class={"badge " (class)} { (status.as_str()) } }
}

/// A time from the API (RFC 3339), shown to the second in UTC.
pub fn time(rfc3339: &str) -> Markup {
    let shown = rfc3339
        .get(..19)
        .map(|t| t.replace('T', " "))
        .unwrap_or_else(|| rfc3339.to_owned());
    html! { time datetime=(rfc3339) title=(rfc3339) { (shown) } }
}

/// The messages of the fields at `name` (or below it), under its input.
pub fn field_errors(errors: &[FieldError], name: &str) -> Markup {
    let mine = errors.iter().filter(|e| owns(name, &e.field));
    html! {
        @for e in mine {
            p.field-error role="alert" data-field=(e.field) { (e.field) ": " (e.message) }
        }
    }
}

/// Whether an error of `field` belongs under the input `name`: the field
/// itself, an item of it (`allowed_ips[2]`) or a part of it (`rate_limit.rate`).
pub fn owns(name: &str, field: &str) -> bool {
    field == name
        || field
            .strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('[') || rest.starts_with('.'))
}

/// Bytes in a unit a person reads.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_is_shown_under_its_field_and_its_items() {
        assert!(owns("allowed_ips", "allowed_ips"));
        assert!(owns("allowed_ips", "allowed_ips[2]"));
        assert!(owns("rate_limit", "rate_limit.rate"));
        assert!(!owns("limits.memory", "limits.memory_mb"));
        assert!(!owns("secrets", "secret"));
    }

    #[test]
    fn bytes_read_as_a_person_would() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(12 * 1024 * 1024), "12.0 MiB");
    }
}
