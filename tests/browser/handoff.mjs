// A whole handoff across the sandbox's two pages in headless Chromium: the customer asks for a
// human, an agent is assigned and replies, the customer answers, the agent closes. Asserts
// what each page shows and saves screenshots of both, at a laptop width and a phone width.
//
//   node handoff.mjs BASE_URL SCREENSHOT_FOLDER
//
// BASE_URL serves /chat and /helpdesk (`hitl serve --sandbox` prints it). Run by
// scripts/check-browser, which installs Debian's chromium and starts the sandbox.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [base, folder] = process.argv.slice(2);
if (!base || !folder) {
  console.error("usage: node handoff.mjs BASE_URL SCREENSHOT_FOLDER");
  process.exit(2);
}
mkdirSync(folder, { recursive: true });

const WAIT_MS = 10_000;
const LAPTOP = { width: 1366, height: 800 };
const PHONE = { width: 390, height: 844 };
const CUSTOMER_SAYS = "Hi, my parcel never came.";
const AGENT_SAYS = "Hello Jane, I am looking into it now.";
const CUSTOMER_ANSWERS = "Thank you! It was order #1234.";
const HOSTILE = `<img src=x onerror="window.__xss = 1"> <script>window.__xss = 2</script>`;

const started = Date.now();
const step = (text) => console.log(`  ✓ ${text} (${((Date.now() - started) / 1000).toFixed(1)} s)`);

function fail(message) {
  throw new Error(message);
}

/** Waits until the text of what `locator` matches contains `expected` (the pages refresh once
 * a second). */
async function waitForText(locator, expected, what) {
  const deadline = Date.now() + WAIT_MS;
  let seen = "";
  while (Date.now() < deadline) {
    seen = (await locator.allTextContents().catch(() => [])).join("\n");
    if (seen.includes(expected)) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  fail(`${what}: expected to see ${JSON.stringify(expected)}, saw ${JSON.stringify(seen.trim().slice(0, 400))}`);
}

async function shoot(page, name, viewport) {
  await page.setViewportSize(viewport);
  await page.waitForTimeout(300);
  const path = join(folder, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  timeout: 30_000,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const errors = [];
try {
  const customerContext = await browser.newContext({ viewport: LAPTOP });
  const agentContext = await browser.newContext({ viewport: LAPTOP });
  const chat = await customerContext.newPage();
  const desk = await agentContext.newPage();
  for (const [name, page] of [["chat", chat], ["help desk", desk]]) {
    page.setDefaultTimeout(WAIT_MS);
    page.on("pageerror", (error) => errors.push(`${name}: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(`${name} console: ${message.text()}`);
    });
    // Nothing may be fetched from anywhere but the sandbox.
    await page.route("**/*", (route) =>
      route.request().url().startsWith(base) ? route.continue() : (errors.push(`${name} fetched ${route.request().url()}`), route.abort()),
    );
  }

  // The customer talks to the bot, then asks for a human.
  await chat.goto(`${base}/chat`);
  await waitForText(chat.locator("#chat-status"), "Bot", "chat status before the handoff");
  await chat.fill("#chat-text", "Where is my parcel?");
  await chat.press("#chat-text", "Enter");
  await waitForText(chat.locator("#feed"), "I only know how to hand you over", "the bot's answer");
  await chat.click("#talk-to-human");
  await waitForText(chat.locator("#chat-status"), "Waiting for an agent", "chat status after Talk to a human");
  await waitForText(chat.locator("#feed"), "You are in the queue", "the queue notice");
  step("customer: Talk to a human → createUser + startHitl, waiting for an agent");

  await chat.fill("#chat-text", CUSTOMER_SAYS);
  await chat.click(".composer button[type=submit]");
  await waitForText(chat.locator("#feed .msg.customer"), CUSTOMER_SAYS, "the customer's message in the chat");

  // The agent sees the thread, open and unassigned, with the customer's message.
  await desk.goto(`${base}/helpdesk`);
  await waitForText(desk.locator(".thread-list a[aria-current=true]"), "Jane Doe", "the selected thread in the list");
  await waitForText(desk.locator(".thread-list a[aria-current=true] .pill"), "Open", "the thread's status in the list");
  await waitForText(desk.locator("#assignee"), "Unassigned", "the thread's assignee before assignment");
  await waitForText(desk.locator("#transcript"), CUSTOMER_SAYS, "the customer's message in the help desk");
  step("help desk: the thread is open, unassigned, with the customer's message");

  // The agent takes it.
  await desk.selectOption("#agent-select", "A-1001");
  await desk.click("#assign");
  await waitForText(desk.locator("#assignee"), "Ada Lovelace", "the assignee after Assign");
  await waitForText(desk.locator(".thread-list a[aria-current=true] .meta"), "Ada Lovelace", "the assignee in the list");
  await waitForText(chat.locator("#chat-status"), "Talking to Ada Lovelace", "chat status after assignment");
  await waitForText(chat.locator("#feed .notice"), "Ada Lovelace joined the conversation.", "the assignment notice");
  step("agent assigned → the chat says Ada Lovelace joined (hitlAssigned)");

  // The agent replies; the customer answers.
  await desk.fill("#reply-text", AGENT_SAYS);
  await desk.click("#send-reply");
  await waitForText(desk.locator("#transcript .msg.agent-out"), AGENT_SAYS, "the reply in the help desk");
  await waitForText(chat.locator("#feed .msg.agent"), AGENT_SAYS, "the agent's reply in the chat");
  await waitForText(chat.locator("#feed .msg.agent .author"), "Ada Lovelace", "the reply's author in the chat");
  step("agent replies → the reply shows in the chat, from Ada Lovelace");

  await chat.fill("#chat-text", CUSTOMER_ANSWERS);
  await chat.press("#chat-text", "Enter");
  await waitForText(desk.locator("#transcript .msg.customer-in"), CUSTOMER_ANSWERS, "the customer's answer in the help desk");
  step("customer answers → the answer shows in the help desk");

  // The event log saw every crossing.
  const log = desk.locator(".log-body");
  for (const expected of [
    "action createUser",
    "action startHitl",
    "message_created (hitl)",
    "publish message",
    "propertyChange assignedTo=A-1001",
    "createEvent hitlAssigned",
    "OUTGOING_CHANNEL_MESSAGE_CREATED",
    "getOrCreateMessage",
  ]) {
    await waitForText(log, expected, "the event log");
  }
  const badStatuses = await desk.locator(".log-table .status.bad").count();
  if (badStatuses > 0) fail(`the event log shows ${badStatuses} failed call(s)`);
  step("event log: every call of the handoff, all answered 2xx");

  // Screenshots mid-conversation: laptop, then phone.
  const shots = [];
  await chat.bringToFront();
  shots.push(await shoot(chat, "chat-laptop", LAPTOP));
  shots.push(await shoot(desk, "helpdesk-laptop", LAPTOP));
  shots.push(await shoot(chat, "chat-phone", PHONE));
  shots.push(await shoot(desk, "helpdesk-phone", PHONE));
  for (const page of [chat, desk]) {
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 1) fail(`${page.url()} scrolls sideways by ${overflow}px at phone width`);
  }
  await chat.setViewportSize(LAPTOP);
  await desk.setViewportSize(LAPTOP);
  step("screenshots at laptop and phone widths; no sideways scrolling on a phone");

  // Markup typed by a customer is shown as text on both pages, never run.
  await chat.fill("#chat-text", HOSTILE);
  await chat.press("#chat-text", "Enter");
  await waitForText(desk.locator("#transcript"), `<img src=x onerror="window.__xss = 1">`, "hostile text shown as text in the help desk");
  await waitForText(chat.locator("#feed"), "<script>window.__xss = 2</script>", "hostile text shown as text in the chat");
  for (const [name, page] of [["chat", chat], ["help desk", desk]]) {
    if ((await page.evaluate(() => window.__xss)) !== undefined) fail(`the ${name} ran markup a customer typed`);
  }
  step("markup typed by the customer is shown, not run, on both pages");

  // The agent closes the thread.
  await desk.click("#close-thread");
  await waitForText(desk.locator(".thread-head .pill"), "Closed", "the thread's status after Close");
  await waitForText(desk.locator(".actions"), "This thread is closed.", "the actions after Close");
  await waitForText(chat.locator("#feed .notice"), "The agent closed the conversation.", "the close notice in the chat");
  await waitForText(chat.locator("#chat-status"), "Bot", "chat status after the close");
  await waitForText(log, "createEvent hitlStopped", "the event log after Close");
  step("agent closes → the chat says the conversation is closed (hitlStopped)");

  shots.push(await shoot(chat, "chat-closed-laptop", LAPTOP));
  shots.push(await shoot(desk, "helpdesk-closed-laptop", LAPTOP));

  if (errors.length > 0) fail(`the pages reported errors:\n  ${errors.join("\n  ")}`);
  console.log(`screenshots in ${folder}:`);
  for (const shot of shots) console.log(`  ${shot}`);
  console.log(`browser check passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} finally {
  await browser.close();
}
