//! The dashboard at `/ui`: in Debian's chromium (sign in, find a failed
//! delivery, read its logs, replay it, watch it succeed; edit an endpoint;
//! a phone's screen), and over plain HTTP what a hostile tenant or another
//! site could try: other tenants' pages and forms, forged forms, stale
//! sessions.

use std::time::Duration;

use hookhost::domain::Timestamp;
use hookhost::ids::{DeliveryId, TenantId};
use hookhost::store::DeliveryStatus;
use hookhost_tests::block_on_within;
use hookhost_tests::dashboard::{self, run_browser, screenshots, sign_in};
use hookhost_tests::host::{OPERATOR_TOKEN, SECRET, TestHost, spec};
use hookhost_tests::plugins::ORDER_SYNC;
use hookhost_tests::receiver::Receiver;

const SOON: Duration = Duration::from_secs(20);

/// Two tenants: `acme` with a healthy endpoint `audit` and an endpoint
/// `orders` whose order service answered 500 once, so one delivery is dead
/// (the service answers 200 again now); `globex` with a delivery of its own.
struct Shop {
    host: TestHost,
    receiver: Receiver,
    acme_key: String,
    globex_key: String,
    dead: DeliveryId,
    globex_delivery: DeliveryId,
}

async fn shop() -> Shop {
    let host = TestHost::start().await;
    let receiver = Receiver::start().await;
    let acme_key = host.create_tenant("acme").await;
    let globex_key = host.create_tenant("globex").await;
    // acme may itself write what the operator set up for it here.
    host.set_policy(
        "acme",
        serde_json::json!({"allow_private_network": true, "min_retry_delay_s": 0}),
    )
    .await;
    let acme = TenantId::new("acme").unwrap();
    let globex = TenantId::new("globex").unwrap();
    for tenant in [&acme, &globex] {
        let version = host.plugin(tenant, "order-sync", ORDER_SYNC).await;
        let mut orders = spec("order-sync", version, Some(&receiver));
        orders.retry.max_attempts = 1;
        host.endpoint(tenant, "orders", &orders).await;
        host.endpoint(
            tenant,
            "audit",
            &spec("order-sync", version, Some(&receiver)),
        )
        .await;
    }
    for n in 0..3 {
        let id = host
            .accept(
                "acme",
                "audit",
                &format!("audit-{n}"),
                r#"{"order":"audit"}"#,
            )
            .await;
        host.wait_for(&acme, &id, DeliveryStatus::Succeeded, SOON)
            .await;
    }
    receiver.respond_with(500);
    let dead = host
        .accept("acme", "orders", "order-1001", r#"{"order":"order-1001"}"#)
        .await;
    host.wait_for(&acme, &dead, DeliveryStatus::Dead, SOON)
        .await;
    let globex_delivery = host
        .accept("globex", "orders", "order-9", r#"{"order":"order-9"}"#)
        .await;
    host.wait_for(&globex, &globex_delivery, DeliveryStatus::Dead, SOON)
        .await;
    receiver.respond_with(200);
    Shop {
        host,
        receiver,
        acme_key,
        globex_key,
        dead,
        globex_delivery,
    }
}

/// Rotates acme's API key as the operator.
async fn rotate_acme_key(host: &TestHost) {
    let (status, body) = host
        .call(
            "POST",
            "/v1/tenants/acme/api-key",
            Some(OPERATOR_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[test]
fn in_a_browser_a_tenant_finds_a_failed_delivery_reads_its_logs_replays_it_and_watches_it_succeed()
{
    block_on_within(Duration::from_secs(240), async {
        let shop = shop().await;
        let base = shop.host.url("");
        let setup = serde_json::json!({
            "url": base,
            "tenant": "acme",
            "other": "globex",
            "tenantKey": shop.acme_key,
            "otherKey": shop.globex_key,
            "operatorToken": OPERATOR_TOKEN,
            "endpoint": "orders",
            "dead": shop.dead.to_string(),
            "event": "order-1001",
            "secret": SECRET,
            "screenshots": screenshots(),
            "component": ORDER_SYNC,
        });
        // A webhook a second while the browser looks, for the live list.
        let sending = {
            let client = reqwest::Client::new();
            let url = shop.host.url("/hooks/acme/audit");
            tokio::spawn(async move {
                for n in 0.. {
                    let body = format!(r#"{{"order":"live-{n}"}}"#);
                    let mut request = client.post(&url).body(body.clone());
                    for (name, value) in
                        hookhost_tests::host::signed_headers(&format!("live-{n}"), body.as_bytes())
                    {
                        request = request.header(name, value);
                    }
                    let _ = request.send().await;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            })
        };
        tokio::task::spawn_blocking(move || run_browser("dashboard.mjs", &setup))
            .await
            .expect("the browser test ran");
        sending.abort();
        let acme = TenantId::new("acme").unwrap();
        let replayed = shop
            .host
            .store
            .delivery(&acme, &shop.dead)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(replayed.status, DeliveryStatus::Succeeded);
        assert_eq!(replayed.attempts, 3, "the failed attempt and two replays");
        assert_eq!(
            replayed.plugin_version, 2,
            "the last replay ran the new version"
        );
        assert!(
            shop.receiver
                .requests()
                .iter()
                .any(|r| r.body.as_ref() == br#"{"order":"order-1001"}"#),
            "the replay reached the order service"
        );
        for shot in ["overview.png", "delivery.png"] {
            let bytes = std::fs::read(screenshots().join(shot)).expect("screenshot written");
            assert!(bytes.starts_with(b"\x89PNG"), "{shot} is a PNG");
        }
        shop.host.stop().await;
    });
}

#[test]
fn a_tenant_signed_in_can_neither_see_nor_act_on_another_tenants_pages() {
    block_on_within(Duration::from_secs(120), async {
        let shop = shop().await;
        let globex = sign_in(&shop.host.url(""), &shop.globex_key).await;
        let acme = TenantId::new("acme").unwrap();
        let dead = shop.dead.to_string();
        for page in [
            "/ui/t/acme".to_owned(),
            "/ui/t/acme/deliveries".to_owned(),
            format!("/ui/t/acme/deliveries/{dead}"),
            "/ui/t/acme/endpoints".to_owned(),
            "/ui/t/acme/endpoints/orders".to_owned(),
            "/ui/t/acme/plugins".to_owned(),
        ] {
            let answer = globex.get(&page).await;
            assert_eq!(answer.status, 404, "{page}: {}", answer.text);
            assert!(
                !answer.text.contains("order-1001"),
                "{page} shows nothing of acme's"
            );
        }
        // Its own delivery's id under the other tenant's name is not found either.
        let own = shop.globex_delivery.to_string();
        assert_eq!(
            globex
                .get(&format!("/ui/t/acme/deliveries/{own}"))
                .await
                .status,
            404
        );
        assert_eq!(
            globex.get("/ui/tenants").await.status,
            403,
            "the operator's page"
        );

        let csrf = globex.csrf.clone();
        for (action, form) in [
            (
                format!("/ui/t/acme/deliveries/{dead}/replay"),
                vec![("csrf", csrf.as_str())],
            ),
            (
                "/ui/t/acme/endpoints/orders/pause".to_owned(),
                vec![("csrf", csrf.as_str())],
            ),
            (
                "/ui/t/acme/replays".to_owned(),
                vec![
                    ("csrf", csrf.as_str()),
                    ("endpoint", "orders"),
                    ("status", "dead"),
                ],
            ),
            (
                "/ui/t/acme/plugins/bind".to_owned(),
                vec![
                    ("csrf", csrf.as_str()),
                    ("endpoint", "orders"),
                    ("version", "order-sync@1"),
                ],
            ),
            (
                "/ui/t/acme/endpoints/orders".to_owned(),
                vec![("csrf", csrf.as_str()), ("limits.memory_mb", "32")],
            ),
        ] {
            let answer = globex.post(&action, &form).await;
            assert_eq!(answer.status, 404, "{action}: {}", answer.text);
        }
        let untouched = shop
            .host
            .store
            .delivery(&acme, &shop.dead)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (untouched.status, untouched.attempts),
            (DeliveryStatus::Dead, 1)
        );
        let orders = shop
            .host
            .store
            .endpoint(&acme, &"orders".parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(orders.paused_at.is_none());
        assert_eq!(orders.spec.limits.memory_mb, 64);
        assert!(shop.host.store.replay_jobs(&acme).await.unwrap().is_empty());

        // Its own pages work with the same session.
        assert_eq!(globex.get("/ui/t/globex/deliveries").await.status, 200);
        let replay = globex
            .post(
                &format!("/ui/t/globex/deliveries/{own}/replay"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(replay.status, 303, "{}", replay.text);
        shop.host.stop().await;
    });
}

#[test]
fn forms_without_the_sessions_token_or_from_another_site_change_nothing() {
    block_on_within(Duration::from_secs(120), async {
        let shop = shop().await;
        let base = shop.host.url("");
        let acme = sign_in(&base, &shop.acme_key).await;
        let dead = shop.dead.to_string();
        let replay = format!("/ui/t/acme/deliveries/{dead}/replay");
        for form in [vec![], vec![("csrf", "forged")]] {
            let answer = acme.post(&replay, &form).await;
            assert!(
                [403, 422].contains(&answer.status),
                "a form without the token is refused: {} {}",
                answer.status,
                answer.text
            );
        }
        let tenant = TenantId::new("acme").unwrap();
        let untouched = shop
            .host
            .store
            .delivery(&tenant, &shop.dead)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(untouched.attempts, 1, "nothing was replayed");

        // Signing in from another site's page is refused: a forged login.
        let forged = dashboard::client()
            .post(format!("{base}/ui/login"))
            .header("origin", "https://evil.example")
            .form(&[("token", shop.acme_key.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 403);
        assert!(forged.headers().get("set-cookie").is_none());

        // Without a session every page asks to sign in, and says where it was going.
        let anonymous = dashboard::client()
            .get(format!("{base}/ui/t/acme/deliveries?status=dead"))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 303);
        assert_eq!(
            anonymous.headers()["location"],
            "/ui/login?next=%2Fui%2Ft%2Facme%2Fdeliveries%3Fstatus%3Ddead"
        );
        // A wrong token is told so, and gets no cookie.
        let wrong = dashboard::client()
            .post(format!("{base}/ui/login"))
            .form(&[("token", "hh_key_guess")])
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401);
        assert!(wrong.headers().get("set-cookie").is_none());
        shop.host.stop().await;
    });
}

#[test]
fn a_session_cookie_is_http_only_same_site_and_ends_at_sign_out_or_when_its_key_is_rotated() {
    block_on_within(Duration::from_secs(120), async {
        let shop = shop().await;
        let base = shop.host.url("");
        let signed = dashboard::client()
            .post(format!("{base}/ui/login"))
            .form(&[("token", shop.acme_key.as_str())])
            .send()
            .await
            .unwrap();
        let cookie = signed.headers()["set-cookie"].to_str().unwrap().to_owned();
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
            assert!(cookie.contains(attribute), "{cookie} has {attribute}");
        }
        let page = dashboard::client()
            .get(format!("{base}/ui/t/acme"))
            .header("cookie", cookie.split(';').next().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let csp = page.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));

        // Rotating the key ends the sessions it opened.
        let rotated = sign_in(&base, &shop.acme_key).await;
        rotate_acme_key(&shop.host).await;
        let after = rotated.get("/ui/t/acme").await;
        assert_eq!(after.status, 303, "the old key's session ended");
        assert!(after.location.unwrap().starts_with("/ui/login"));

        // Signing out deletes the session, not only the browser's cookie.
        let operator = sign_in(&base, OPERATOR_TOKEN).await;
        assert_eq!(operator.get("/ui/tenants").await.status, 200);
        let out = operator
            .post("/ui/logout", &[("csrf", &operator.csrf)])
            .await;
        assert_eq!(out.status, 303);
        assert_eq!(operator.get("/ui/tenants").await.status, 303);
        shop.host.stop().await;
    });
}

#[test]
fn the_delivery_list_finds_deliveries_by_event_type_event_id_and_time_range() {
    block_on_within(Duration::from_secs(120), async {
        let shop = shop().await;
        let key = &shop.acme_key;
        let list = |query: String| {
            let host = &shop.host;
            async move {
                let (status, body) = host
                    .call(
                        "GET",
                        &format!("/v1/tenants/acme/deliveries?{query}"),
                        Some(key),
                        None,
                    )
                    .await;
                assert_eq!(status, 200, "{body}");
                body["deliveries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d["event_id"].as_str().unwrap_or_default().to_owned())
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(list("event_id=order-1001".into()).await, ["order-1001"]);
        assert_eq!(
            list("event_id=order-9".into()).await,
            Vec::<String>::new(),
            "globex's"
        );
        assert_eq!(list("status=dead".into()).await, ["order-1001"]);
        assert_eq!(
            list("endpoint=audit".into()).await,
            ["audit-2", "audit-1", "audit-0"]
        );
        assert!(list("event_type=invoice.paid".into()).await.is_empty());
        let later = Timestamp::now().after(Duration::from_secs(60)).rfc3339();
        assert!(list(format!("since={later}")).await.is_empty());
        assert_eq!(list(format!("until={later}&limit=1")).await, ["order-1001"]);
        let (status, body) = shop
            .host
            .call(
                "GET",
                "/v1/tenants/acme/deliveries?until=yesterday",
                Some(key),
                None,
            )
            .await;
        assert_eq!(status, 422);
        assert_eq!(body["errors"][0]["field"], "until");
        shop.host.stop().await;
    });
}

#[test]
fn what_a_tenant_sends_and_logs_reaches_its_pages_as_text_never_as_markup() {
    block_on_within(Duration::from_secs(120), async {
        let shop = shop().await;
        let acme = TenantId::new("acme").unwrap();
        let hostile_id = "<img src=x onerror=alert(1)>";
        let id = shop
            .host
            .accept(
                "acme",
                "audit",
                hostile_id,
                r#"{"order":"<script>alert(document.cookie)</script>"}"#,
            )
            .await;
        shop.host
            .wait_for(&acme, &id, DeliveryStatus::Succeeded, SOON)
            .await;
        let session = sign_in(&shop.host.url(""), &shop.acme_key).await;
        for page in [
            format!("/ui/t/acme/deliveries/{id}"),
            "/ui/t/acme/deliveries".to_owned(),
            "/ui/t/acme/deliveries?event_id=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E".to_owned(),
        ] {
            let answer = session.get(&page).await;
            assert_eq!(answer.status, 200, "{page}");
            assert!(
                !answer.text.contains("<img src=x"),
                "{page} has the sender's markup"
            );
            assert!(
                !answer.text.contains("<script>alert"),
                "{page} has the sender's script"
            );
            assert!(
                answer.text.contains("&lt;img src=x onerror=alert(1)&gt;"),
                "{page} shows the id as text"
            );
        }
        shop.host.stop().await;
    });
}

#[test]
fn sign_ins_are_rate_limited_per_address_and_sessions_per_tenant_are_bounded() {
    use hookhost::store::{MAX_SESSIONS_PER_KEY, NewSession};
    block_on_within(Duration::from_secs(120), async {
        let shop = shop().await;
        let base = shop.host.url("");
        // Guessing: a few tries, then 429 for a while, right or wrong.
        let mut statuses = Vec::new();
        for _ in 0..12 {
            let answer = dashboard::client()
                .post(format!("{base}/ui/login"))
                .form(&[("token", "hh_key_guess")])
                .send()
                .await
                .unwrap();
            statuses.push(answer.status().as_u16());
        }
        assert_eq!(statuses[..10], [401; 10]);
        assert_eq!(statuses[10..], [429; 2]);
        let right = dashboard::client()
            .post(format!("{base}/ui/login"))
            .form(&[("token", shop.acme_key.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(right.status(), 429);
        assert!(right.headers().get("set-cookie").is_none());

        // However often a tenant signs in, it keeps the newest sessions only.
        let store = &shop.host.store;
        let acme = TenantId::new("acme").unwrap();
        let now = Timestamp::now();
        let session = |n: i64| NewSession {
            id_hash: format!("session-{n}"),
            tenant: Some(acme.clone()),
            key_hash: "k".into(),
            csrf: "c".into(),
            created_at: Timestamp::from_ms(now.as_ms() + n),
            expires_at: now.after(Duration::from_secs(3600)),
        };
        let sessions = MAX_SESSIONS_PER_KEY + 5;
        for n in 0..sessions {
            store.create_session(&session(n)).await.unwrap();
        }
        let mut kept = Vec::new();
        for n in 0..sessions {
            if store
                .session(&format!("session-{n}"), now)
                .await
                .unwrap()
                .is_some()
            {
                kept.push(n);
            }
        }
        assert_eq!(
            kept,
            (5..sessions).collect::<Vec<_>>(),
            "the newest {MAX_SESSIONS_PER_KEY}"
        );
        // Rotating the key ends them all.
        rotate_acme_key(&shop.host).await;
        assert!(
            store
                .session(&format!("session-{}", sessions - 1), now)
                .await
                .unwrap()
                .is_none()
        );
        shop.host.stop().await;
    });
}

#[test]
fn an_upload_past_the_apis_limit_is_refused_before_it_is_read_whole() {
    block_on_within(Duration::from_secs(120), async {
        let shop = shop().await;
        let session = sign_in(&shop.host.url(""), &shop.acme_key).await;
        let boundary = "hookhost-test-boundary";
        let mut body = format!(
            "--{boundary}\r\ncontent-disposition: form-data; name=\"csrf\"\r\n\r\n{}\r\n\
             --{boundary}\r\ncontent-disposition: form-data; name=\"name\"\r\n\r\nhuge\r\n\
             --{boundary}\r\ncontent-disposition: form-data; name=\"component\"; filename=\"huge.wasm\"\r\n\
             content-type: application/wasm\r\n\r\n",
            session.csrf
        )
        .into_bytes();
        body.extend(std::iter::repeat_n(0u8, 40 * 1024 * 1024));
        body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
        let answer = dashboard::client()
            .post(shop.host.url("/ui/t/acme/plugins"))
            .header("cookie", &session.cookie)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 413);
        let acme = TenantId::new("acme").unwrap();
        let versions = shop.host.store.plugin_versions(&acme, None).await.unwrap();
        assert!(versions.iter().all(|v| v.plugin.as_str() != "huge"));
        shop.host.stop().await;
    });
}

#[test]
fn a_filter_no_index_serves_pages_through_every_delivery_once_a_bounded_stretch_at_a_time() {
    use hookhost::store::{Arrival, DeliveryFilter, LIST_SCAN, NewDelivery, WriteBatch};
    block_on_within(Duration::from_secs(180), async {
        let host = TestHost::start_with(hookhost::config::Config {
            workers: 0,
            ..TestHost::config()
        })
        .await;
        let tenant = host.tenant("acme").await;
        let total = 2 * LIST_SCAN as usize + 5_000;
        let rare = [100, LIST_SCAN as usize + 7, total - 3];
        let now = Timestamp::now().as_ms() - total as i64;
        let mut batch = Vec::new();
        for i in 0..total {
            let endpoint = if rare.contains(&i) { "rare" } else { "busy" };
            batch.push(NewDelivery {
                id: DeliveryId::from_string(format!("dlv_{:012x}{:020x}", now + i as i64, i)),
                tenant: tenant.clone(),
                endpoint: endpoint.parse().unwrap(),
                event_id: Some(format!("evt_{i}")),
                provider: hookhost::domain::Provider::None,
                event_type: None,
                headers: Vec::new(),
                body: Default::default(),
                received_at: Timestamp::from_ms(now + i as i64),
                plugin: "noop".parse().unwrap(),
                plugin_version: 1,
                lease_ms: 10_000,
                arrival: Arrival::Filtered,
            });
            if batch.len() == 5_000 {
                let write = WriteBatch {
                    ingests: std::mem::take(&mut batch),
                    ..WriteBatch::default()
                };
                let (_, durable) = host.store.write(std::sync::Arc::new(write)).await.unwrap();
                durable.wait().await.unwrap();
            }
        }
        let mut filter = DeliveryFilter {
            endpoint: Some("rare".parse().unwrap()),
            limit: 50,
            ..DeliveryFilter::default()
        };
        let (mut found, mut pages) = (Vec::new(), 0);
        loop {
            let page = host.store.list_deliveries(&tenant, &filter).await.unwrap();
            pages += 1;
            found.extend(page.deliveries.iter().map(|d| d.event_id.clone().unwrap()));
            match page.next {
                Some(next) => filter.before = Some(next),
                None => break,
            }
        }
        let expected: Vec<String> = rare.iter().rev().map(|i| format!("evt_{i}")).collect();
        assert_eq!(found, expected, "each once, newest first");
        assert_eq!(
            pages,
            total.div_ceil(LIST_SCAN as usize),
            "a stretch of LIST_SCAN per page"
        );
        host.stop().await;
    });
}
