// Drives the dashboard in Debian's chromium through playwright-core, as a
// person would: run by tests/it/dashboard.rs against `hookhost serve` on
// port 0, which passes what it set up in HOOKHOST_UI_TEST (JSON):
//   url, tenant, tenantKey, otherKey, operatorToken, endpoint, dead (a dead
//   delivery's id), event (its event id), screenshots (a folder).
// Exits non-zero, saying which step failed, when the dashboard does not do
// what a step expects.

import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";

const setup = JSON.parse(process.env.HOOKHOST_UI_TEST);
const ui = (path) => setup.url + path;
const WAIT = { timeout: 20_000 };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
  ],
});

let step = "starting";
async function check(name, body) {
  step = name;
  await body();
  console.log(`ok - ${name}`);
}

async function signIn(context, token) {
  const page = await context.newPage();
  await page.goto(ui("/ui"));
  assert.match(page.url(), /\/ui\/login/, "an anonymous visit is sent to sign in");
  await page.getByLabel("Operator token or tenant API key").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForLoadState("domcontentloaded");
  return page;
}

try {
  mkdirSync(setup.screenshots, { recursive: true });
  rmSync(join(setup.screenshots, "failure.png"), { force: true });
  const laptop = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  let page;

  await check("a tenant signs in with its key and lands on its overview", async () => {
    page = await signIn(laptop, setup.tenantKey);
    assert.equal(new URL(page.url()).pathname, `/ui/t/${setup.tenant}`);
    const cookies = await laptop.cookies();
    const session = cookies.find((c) => c.name === "hookhost_session");
    assert.ok(session, "a session cookie is set");
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, "Strict");
  });

  await check("the overview puts the failing endpoint first, with its dead delivery counted", async () => {
    const first = page.locator("article.card.endpoint").first();
    await first.waitFor(WAIT);
    await assert.doesNotReject(first.getByRole("heading", { name: setup.endpoint }).waitFor(WAIT));
    await first.getByText(/failing: 1 in the last hour/).waitFor(WAIT);
    for (const window of [0, 1]) {
      const totals = first.locator("section.window").nth(window);
      assert.match(await totals.locator("tr", { hasText: "dead" }).textContent(), /dead\s*1/, "the hour's and the day's");
      assert.match(await totals.locator("tr", { hasText: "received" }).textContent(), /received\s*1/);
    }
    const audit = page.locator("article.card.endpoint").nth(1).locator("section.window").nth(1);
    assert.match(await audit.locator("tr", { hasText: "succeeded" }).textContent(), /succeeded\s*[3-9]/);
    assert.match(await audit.locator("tr", { hasText: "p50" }).textContent(), /≤/, "a latency for what succeeded");
    assert.ok((await first.locator("svg.chart rect").count()) > 0, "the chart has bars");
    await page.screenshot({ path: join(setup.screenshots, "overview.png"), fullPage: true });
  });

  await check("the deliveries list filters to dead ones and links to the failed delivery", async () => {
    await page.getByRole("link", { name: "Deliveries" }).click();
    await page.getByLabel("Status").selectOption("dead");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForURL(/status=dead/);
    const rows = page.locator("tbody#rows tr");
    assert.equal(await rows.count(), 1, "exactly the one dead delivery");
    await page.getByRole("link", { name: setup.dead }).click();
    await page.waitForURL(new RegExp(setup.dead));
  });

  await check("the delivery page shows the event, the failed attempt, its logs and its outbound call", async () => {
    assert.equal((await page.locator("#status").textContent()).trim(), "dead");
    await page.getByText(`syncing order ${setup.dead}`).waitFor(WAIT);
    await page.getByText("order service failed: HTTP status 500").first().waitFor(WAIT);
    const call = page.locator("table.calls tbody tr").first();
    assert.match(await call.textContent(), /POST.*500/s);
    assert.match(await page.locator("pre.body").textContent(), new RegExp(`"order": "${setup.event}"`));
    const html = await page.content();
    assert.ok(!html.includes(setup.secret), "the endpoint's signing secret is never on the page");
  });

  await check("replaying the delivery runs it again, and the page follows it until it succeeds", async () => {
    await page.getByRole("button", { name: "Replay", exact: true }).click();
    await page.waitForURL(new RegExp(`${setup.dead}$`));
    await page.locator("#status", { hasText: "succeeded" }).waitFor(WAIT);
    assert.equal(await page.locator("li.attempt").count(), 2, "the failed attempt and the replay");
    await page.getByText(/order service answered 200/).waitFor(WAIT);
    await page.screenshot({ path: join(setup.screenshots, "delivery.png"), fullPage: true });
  });

  await check("a new plugin version is uploaded from the plugins page and bound to an endpoint", async () => {
    await page.getByRole("link", { name: "Plugins" }).click();
    await page.getByLabel("Plugin name").fill("order-sync");
    await page.getByLabel("Component (.wasm)").setInputFiles(setup.component);
    await page.getByRole("button", { name: "Upload" }).click();
    const v2 = page.locator("tr", { hasText: "v2" });
    await v2.waitFor(WAIT);
    assert.match(await v2.textContent(), /sha256:/);
    await page.getByLabel("Endpoint", { exact: true }).selectOption(setup.endpoint);
    await page.getByLabel("To", { exact: true }).selectOption("order-sync@2");
    await page.getByRole("button", { name: "Bind" }).click();
    await page.locator("tr", { hasText: "v2" }).getByText(setup.endpoint).waitFor(WAIT);
  });

  await check("a delivery replays on another version", async () => {
    await page.goto(ui(`/ui/t/${setup.tenant}/deliveries/${setup.dead}`));
    await page.getByLabel("Replay on").selectOption("2");
    await page.getByRole("button", { name: "Replay on this version" }).click();
    await page.locator("li.attempt").nth(2).waitFor(WAIT);
    await page.locator("#status", { hasText: "succeeded" }).waitFor(WAIT);
    assert.match(await page.locator("li.attempt").first().textContent(), /Attempt 3.*version 2/s);
  });

  await check("a bulk replay of what the filter matches shows its progress to the end", async () => {
    await page.goto(ui(`/ui/t/${setup.tenant}/deliveries?endpoint=audit&status=succeeded`));
    await page.getByRole("button", { name: "Replay every match" }).click();
    await page.waitForURL(/\/replays\/rpl_/);
    await page.locator("#progress", { hasText: "done" }).waitFor(WAIT);
    assert.equal(await page.locator("progress").getAttribute("value"), "100");
    assert.match(await page.locator("#progress").textContent(), /[1-9]\d* replayed/);
  });

  await check("the list updates while it is open", async () => {
    await page.goto(ui(`/ui/t/${setup.tenant}/deliveries`));
    const before = await page.locator("tbody#rows").textContent();
    const newest = page.locator("tbody#rows tr").first().locator("td").nth(4);
    const first = await newest.textContent();
    // The test sends a webhook every second while this script runs.
    await page.waitForFunction(
      ([cell, was]) => document.querySelector(cell)?.textContent !== was,
      ["tbody#rows tr td:nth-child(5)", first],
      WAIT,
    );
    assert.notEqual(await page.locator("tbody#rows").textContent(), before);
    assert.match(await newest.textContent(), /^live-/);
  });

  // What the API answers for the same change, field by field.
  async function apiErrors(change) {
    const body = { provider: "standard-webhooks", secrets: [setup.secret], plugin: "order-sync", ...change };
    const api = await fetch(ui(`/v1/tenants/${setup.tenant}/endpoints/${setup.endpoint}`), {
      method: "PUT",
      headers: { authorization: `Bearer ${setup.tenantKey}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    assert.equal(api.status, 422);
    return (await api.json()).errors;
  }

  async function showsEach(expected) {
    await page.getByText("Nothing was saved").waitFor(WAIT);
    for (const e of expected) {
      const shown = page.locator(`.field-error[data-field="${e.field}"]`);
      assert.equal(await shown.count(), 1, `one message for ${e.field}`);
      assert.equal((await shown.textContent()).trim(), `${e.field}: ${e.message}`);
    }
  }

  await check("an endpoint edit with bad fields shows the API's message under each field", async () => {
    const expected = await apiErrors({ limits: { memory_mb: 100000, timeout_ms: 999999999 } });
    assert.equal(expected.length, 2, JSON.stringify(expected));
    await page.goto(ui(`/ui/t/${setup.tenant}/endpoints`));
    await page.getByRole("link", { name: "Edit" }).first().click();
    await page.getByLabel("Memory (MiB)").fill("100000");
    await page.getByLabel("Deadline (ms)").fill("999999999");
    await page.getByRole("button", { name: "Save" }).click();
    await showsEach(expected);
    assert.equal(await page.getByLabel("Memory (MiB)").getAttribute("aria-invalid"), "true");
    assert.equal(await page.getByLabel("Memory (MiB)").inputValue(), "100000", "what was typed is kept");

    const unreadable = await apiErrors({ allowed_ips: ["10.0.0.0/33"] });
    await page.getByLabel("Memory (MiB)").fill("64");
    await page.getByLabel("Deadline (ms)").fill("5000");
    await page.getByLabel("Allowed IPs").fill("10.0.0.0/33");
    await page.getByRole("button", { name: "Save" }).click();
    await showsEach(unreadable);
  });

  await check("a good edit saves, and pause and resume work from the endpoint list", async () => {
    await page.getByLabel("Memory (MiB)").fill("96");
    await page.getByLabel("Allowed IPs").fill("");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("Saved.").waitFor(WAIT);
    assert.equal(await page.getByLabel("Memory (MiB)").inputValue(), "96");
    await page.goto(ui(`/ui/t/${setup.tenant}/endpoints`));
    await page.getByRole("button", { name: "Pause" }).first().click();
    await page.getByText(/paused since/).first().waitFor(WAIT);
    await page.getByRole("button", { name: "Resume" }).first().click();
    await page.getByText("running").first().waitFor(WAIT);
  });

  await check("the keyboard reaches everything, starting with a skip link", async () => {
    await page.goto(ui(`/ui/t/${setup.tenant}/deliveries`));
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement.textContent), "Skip to content");
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement.textContent), "hookhost");
  });

  await check("another tenant's pages are not found for this tenant", async () => {
    const answer = await page.goto(ui(`/ui/t/${setup.other}/deliveries`));
    assert.equal(answer.status(), 404);
  });

  await check("on a phone the pages fit the screen", async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const small = await signIn(phone, setup.tenantKey);
    for (const path of ["", "/deliveries", `/deliveries/${setup.dead}`, "/endpoints", "/plugins"]) {
      await small.goto(ui(`/ui/t/${setup.tenant}${path}`));
      const overflow = await small.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `${path || "overview"} is ${overflow}px wider than the screen`);
    }
    await phone.close();
  });

  await check("the operator sees every tenant with its usage", async () => {
    const operator = await browser.newContext();
    const op = await signIn(operator, setup.operatorToken);
    assert.equal(new URL(op.url()).pathname, "/ui/tenants");
    for (const t of [setup.tenant, setup.other]) {
      await op.getByRole("link", { name: t, exact: true }).waitFor(WAIT);
    }
    await operator.close();
  });

  await check("signing out ends the session", async () => {
    await page.goto(ui(`/ui/t/${setup.tenant}`));
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/ui\/login/);
    await page.goto(ui(`/ui/t/${setup.tenant}`));
    assert.match(page.url(), /\/ui\/login/);
  });
} catch (e) {
  console.error(`not ok - ${step}\n${e.stack || e}`);
  for (const context of browser.contexts()) {
    for (const page of context.pages()) {
      const notices = await page.locator(".notice, .field-error, main p").allTextContents().catch(() => []);
      console.error(`page ${page.url()}:\n  ${notices.join("\n  ")}`);
      await page.screenshot({ path: join(setup.screenshots, "failure.png"), fullPage: true }).catch(() => {});
    }
  }
  process.exitCode = 1;
} finally {
  await browser.close();
}
