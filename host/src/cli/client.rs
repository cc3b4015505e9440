//! The command line's side of the admin API: where the server is and which
//! token to send, turning problem documents and unreachable servers into
//! errors a person can act on, and printing answers as JSON or as tables.

use std::fmt;
use std::time::Duration;

use clap::Args;
use reqwest::{Method, RequestBuilder, StatusCode, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::CliError;
use crate::ids::TenantId;

/// How long to wait for a connection to the server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long to wait for a whole answer; an upload is compiled before it is answered.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// Bytes of a non-problem error answer quoted in the error message.
const QUOTED_BODY_CHARS: usize = 200;

/// What to do about a 401, on the command line.
const UNAUTHORIZED_HINT: &str =
    "pass the operator token (or the tenant's API key) with --token or HOOKHOST_TOKEN";

/// Where the admin API is, how to authenticate, and how to print its answers.
#[derive(Debug, Args)]
#[command(next_help_heading = "Admin API")]
pub(crate) struct ApiArgs {
    /// The hookhost server's base URL.
    #[arg(
        long,
        env = "HOOKHOST_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    url: String,
    /// The operator token (or a tenant's API key), sent as `Authorization: Bearer …`.
    #[arg(long, env = "HOOKHOST_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// Print the API's JSON answer, pretty-printed, instead of a table or summary.
    #[arg(long, global = true)]
    json: bool,
}

/// The tenant a command acts on.
#[derive(Debug, Args)]
pub(crate) struct TenantFlag {
    /// The tenant.
    #[arg(long, env = "HOOKHOST_TENANT")]
    pub(crate) tenant: TenantId,
}

/// An answer of the admin API with a success status.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The status, e.g. 201 for created and 200 for updated.
    pub(crate) status: StatusCode,
    /// The JSON body; `null` when the answer has none (204).
    pub(crate) body: Value,
}

/// A client of one server's admin API.
#[derive(Debug)]
pub(crate) struct Client {
    http: reqwest::Client,
    base: Url,
    token: Option<String>,
    json: bool,
}

impl Client {
    /// A client for the server named by `args`.
    pub(crate) fn new(args: &ApiArgs) -> Result<Self, CliError> {
        let mut base = Url::parse(&args.url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && !u.cannot_be_a_base())
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "--url {:?} is not an http(s) URL such as http://127.0.0.1:8080",
                    args.url
                ))
            })?;
        base.set_query(None);
        base.set_fragment(None);
        Ok(Self {
            http: http_client()?,
            base,
            token: args.token.clone(),
            json: args.json,
        })
    }

    /// The URL of the API path made of `segments`, each percent-encoded.
    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("new accepts only URLs that can be a base")
            .pop_if_empty()
            .extend(segments);
        url
    }

    /// A request to `url` carrying the bearer token, when there is one.
    pub(crate) fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let request = self.http.request(method, url);
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Calls `method` on the API path made of `segments`, with a JSON body when given.
    pub(crate) async fn call(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&Value>,
    ) -> Result<Answer, CliError> {
        let request = self.request(method, self.url(segments));
        let request = match body {
            Some(body) => request.json(body),
            None => request,
        };
        self.send(request).await
    }

    /// Sends `request`: a success answer comes back as JSON, an error answer
    /// becomes [`CliError::Api`], a failed exchange [`CliError::Unreachable`].
    pub(crate) async fn send(&self, request: RequestBuilder) -> Result<Answer, CliError> {
        let response = request
            .send()
            .await
            .map_err(|e| unreachable(self.base.as_str(), &e))?;
        let status = response.status();
        let url = response.url().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| unreachable(self.base.as_str(), &e))?;
        if !status.is_success() {
            return Err(CliError::Api(ApiError::from_answer(status, &bytes)));
        }
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|_| {
                CliError::Http(format!(
                    "{url} answered {status} with a body that is not JSON: is --url a hookhost server?"
                ))
            })?
        };
        Ok(Answer { status, body })
    }

    /// Prints `body` as pretty JSON with `--json` (nothing when it is `null`),
    /// otherwise what `human` makes of it read as the API's view `T`.
    pub(crate) fn print<T: DeserializeOwned>(
        &self,
        body: &Value,
        human: impl FnOnce(&T) -> String,
    ) -> Result<(), CliError> {
        if self.json {
            if !body.is_null() {
                println!("{}", pretty(body));
            }
            return Ok(());
        }
        let view = T::deserialize(body).map_err(|e| {
            CliError::Http(format!(
                "the server's answer is not what this hookhost reads ({e}); are the server and the CLI the same version?"
            ))
        })?;
        print!("{}", human(&view));
        Ok(())
    }
}

/// The HTTP client of every command that talks to a server.
pub(crate) fn http_client() -> Result<reqwest::Client, CliError> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| CliError::Http(format!("the HTTP client could not be set up: {e}")))
}

/// The error for an exchange with `url` that failed before an answer was read.
pub(crate) fn unreachable(url: &str, e: &reqwest::Error) -> CliError {
    let reason = if e.is_timeout() {
        format!("no answer within {} s", REQUEST_TIMEOUT.as_secs())
    } else {
        let mut innermost: &dyn std::error::Error = e;
        while let Some(source) = innermost.source() {
            innermost = source;
        }
        innermost.to_string()
    };
    CliError::Unreachable {
        url: url.to_owned(),
        reason,
    }
}

/// An error answer of the API, read from its `application/problem+json` body.
#[derive(Debug)]
pub struct ApiError {
    detail: String,
    errors: Vec<FieldError>,
    hint: Option<&'static str>,
}

/// One invalid field of a request, as a problem document lists it.
#[derive(Debug, Deserialize)]
pub struct FieldError {
    field: String,
    message: String,
}

/// The parts of a problem document the command line shows.
#[derive(Deserialize)]
struct ProblemBody {
    title: Option<String>,
    detail: Option<String>,
    #[serde(default)]
    errors: Vec<FieldError>,
}

impl ApiError {
    /// Reads an error answer: its problem document when it is one, otherwise
    /// the status and the start of whatever the body says. A 401 also says
    /// where the token comes from.
    pub(crate) fn from_answer(status: StatusCode, body: &[u8]) -> Self {
        let hint = (status == StatusCode::UNAUTHORIZED).then_some(UNAUTHORIZED_HINT);
        if let Ok(problem) = serde_json::from_slice::<ProblemBody>(body)
            && let Some(detail) = problem.detail.or(problem.title)
        {
            return Self {
                detail,
                errors: problem.errors,
                hint,
            };
        }
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        let detail = if text.is_empty() {
            format!("the server answered {status}")
        } else {
            format!(
                "the server answered {status}: {}",
                truncate(text, QUOTED_BODY_CHARS)
            )
        };
        Self {
            detail,
            errors: Vec::new(),
            hint,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A 422's detail already joins its field errors; one per line reads better.
        if self.errors.is_empty() {
            f.write_str(&self.detail)?;
        } else {
            f.write_str("the request was refused:")?;
        }
        for error in &self.errors {
            write!(f, "\n  {}: {}", error.field, error.message)?;
        }
        if let Some(hint) = self.hint {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

/// A request of the API's own types as the JSON body it is sent as.
pub(crate) fn to_body(request: &impl serde::Serialize) -> Value {
    serde_json::to_value(request).expect("API requests serialise")
}

/// JSON as people read it.
pub(crate) fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("JSON values serialize")
}

/// `value[key]` as text: strings as they are, `null` or absent as `-`,
/// anything else as compact JSON.
pub(crate) fn field(value: &Value, key: &str) -> String {
    match &value[key] {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `value[key]` as a list of values; empty when absent or not a list.
pub(crate) fn list<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value[key].as_array().map(Vec::as_slice).unwrap_or_default()
}

/// At most `max` characters of `text`, with `…` when some were cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", text[..end].trim_end()),
        None => text.to_owned(),
    }
}

/// A byte count in the unit people read it in.
pub(crate) fn human_size(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KIB {
        format!("{bytes} B")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else {
        format!("{:.1} MiB", b / (KIB * KIB))
    }
}

/// Rows under a header row, in columns padded to their widest cell and two
/// spaces apart; the last column is not padded.
pub(crate) fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let header = header.map(str::to_owned);
    aligned(std::iter::once(&header).chain(rows))
}

/// `name  value` lines with the values lined up.
pub(crate) fn fields(pairs: &[(&str, String)]) -> String {
    let rows: Vec<[String; 2]> = pairs
        .iter()
        .map(|(name, value)| [(*name).to_owned(), value.clone()])
        .collect();
    aligned(&rows)
}

fn aligned<'a, const N: usize>(rows: impl IntoIterator<Item = &'a [String; N]> + Clone) -> String {
    let mut widths = [0; N];
    for row in rows.clone() {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            line.push_str(cell);
            if i + 1 < N {
                line.extend(std::iter::repeat_n(' ', width - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_table_pads_every_column_but_the_last_to_its_widest_cell() {
        let out = table(
            ["ID", "CREATED"],
            &[
                ["acme".into(), "2025-01-01T00:00:00Z".into()],
                ["a-much-longer-id".into(), "2025-01-02T00:00:00Z".into()],
            ],
        );
        assert_eq!(
            out,
            "ID                CREATED\n\
             acme              2025-01-01T00:00:00Z\n\
             a-much-longer-id  2025-01-02T00:00:00Z\n"
        );
    }

    #[test]
    fn a_table_measures_cells_in_characters_not_bytes() {
        let out = table(["A", "B"], &[["…ab".into(), "x".into()]]);
        assert_eq!(out, "A    B\n…ab  x\n");
    }

    #[test]
    fn a_table_leaves_no_trailing_spaces_when_the_last_cell_is_empty() {
        let out = table(["A", "B"], &[["1".into(), String::new()]]);
        assert_eq!(out, "A  B\n1\n");
    }

    #[test]
    fn a_table_without_rows_is_its_header() {
        assert_eq!(table(["ID", "CREATED"], &[]), "ID  CREATED\n");
    }

    #[test]
    fn fields_line_up_their_values() {
        let out = fields(&[("id", "acme".into()), ("created at", "today".into())]);
        assert_eq!(out, "id          acme\ncreated at  today\n");
    }

    #[test]
    fn a_problem_document_renders_as_its_detail() {
        let body = json!({
            "type": "about:blank",
            "title": "Not found",
            "status": 404,
            "detail": "no tenant acme"
        });
        let error = ApiError::from_answer(StatusCode::NOT_FOUND, body.to_string().as_bytes());
        assert_eq!(error.to_string(), "no tenant acme");
    }

    #[test]
    fn field_errors_render_one_per_line_instead_of_the_joined_detail() {
        let body = json!({
            "type": "about:blank",
            "title": "Invalid request",
            "status": 422,
            "detail": "the endpoint is not valid",
            "errors": [
                {"field": "provider", "message": "unknown provider \"strype\""},
                {"field": "retry.max_attempts", "message": "must be at least 1"}
            ]
        });
        let error = ApiError::from_answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            body.to_string().as_bytes(),
        );
        assert_eq!(
            error.to_string(),
            "the request was refused:\n  provider: unknown provider \"strype\"\n  retry.max_attempts: must be at least 1"
        );
    }

    #[test]
    fn a_problem_without_detail_falls_back_to_its_title() {
        let body = json!({"type": "about:blank", "title": "Conflict", "status": 409});
        let error = ApiError::from_answer(StatusCode::CONFLICT, body.to_string().as_bytes());
        assert_eq!(error.to_string(), "Conflict");
    }

    #[test]
    fn an_unauthorized_answer_says_where_the_token_comes_from() {
        let body = json!({
            "type": "about:blank",
            "title": "Unauthorized",
            "status": 401,
            "detail": "send `Authorization: Bearer <token>`"
        });
        let error = ApiError::from_answer(StatusCode::UNAUTHORIZED, body.to_string().as_bytes());
        assert_eq!(
            error.to_string(),
            format!("send `Authorization: Bearer <token>`\nhint: {UNAUTHORIZED_HINT}")
        );
    }

    #[test]
    fn an_error_answer_that_is_not_a_problem_names_the_status_and_quotes_the_body() {
        let error = ApiError::from_answer(StatusCode::BAD_GATEWAY, b"  upstream down\n");
        assert_eq!(
            error.to_string(),
            "the server answered 502 Bad Gateway: upstream down"
        );
        let error = ApiError::from_answer(StatusCode::NOT_FOUND, b"");
        assert_eq!(error.to_string(), "the server answered 404 Not Found");
    }

    #[test]
    fn a_long_error_body_is_cut() {
        let body = "x".repeat(QUOTED_BODY_CHARS + 50);
        let error = ApiError::from_answer(StatusCode::INTERNAL_SERVER_ERROR, body.as_bytes());
        assert_eq!(
            error.to_string(),
            format!(
                "the server answered 500 Internal Server Error: {}…",
                "x".repeat(QUOTED_BODY_CHARS)
            )
        );
    }

    #[test]
    fn fields_of_json_values_read_as_text() {
        let v = json!({"s": "text", "n": 3, "b": true, "z": null, "a": [1]});
        assert_eq!(field(&v, "s"), "text");
        assert_eq!(field(&v, "n"), "3");
        assert_eq!(field(&v, "b"), "true");
        assert_eq!(field(&v, "z"), "-");
        assert_eq!(field(&v, "missing"), "-");
        assert_eq!(field(&v, "a"), "[1]");
    }

    #[test]
    fn api_paths_are_appended_to_the_base_url_segment_by_segment() {
        let client = Client::new(&ApiArgs {
            url: "http://example.test:8080/admin/?x=1".into(),
            token: None,
            json: false,
        })
        .unwrap();
        assert_eq!(
            client.url(&["v1", "tenants", "a b/c"]).as_str(),
            "http://example.test:8080/admin/v1/tenants/a%20b%2Fc"
        );
    }

    #[test]
    fn a_url_that_is_not_http_is_refused() {
        for url in ["127.0.0.1:8080", "ftp://example.test", "not a url"] {
            let args = ApiArgs {
                url: url.into(),
                token: None,
                json: false,
            };
            assert!(
                matches!(Client::new(&args), Err(CliError::Usage(_))),
                "{url}"
            );
        }
    }

    #[test]
    fn sizes_read_in_bytes_kib_or_mib() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 * 1024 * 1024), "3.0 MiB");
    }
}
