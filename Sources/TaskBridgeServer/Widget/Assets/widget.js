/* TaskBridge feedback widget:
   <script src="https://hooks.example.com/widget.js" data-source="widget" async></script>
   Its DOM and CSS live in one shadow root, out of the host page's way. ASCII only, so the
   served charset does not matter. */
(() => {
'use strict';
const me = document.currentScript; // set only while this runs
if (window.TaskBridgeWidget || !me) return; // loaded twice: the first copy wins
const data = me.dataset;
if (!data.source) return console.warn('TaskBridge widget: add data-source="<source>" to the script tag.');
let endpoint; // .../widget.js?v=1 -> .../hooks/<source>
try { endpoint = new URL('hooks/' + encodeURIComponent(data.source), me.src).href; } catch (e) { return; }
const hp = data.honeypot ?? 'website'; // data-honeypot="" turns the trap off
const LIMITS = { message: 5000, name: 200, email: 320 }; // the server's
const EMAIL = /^[^@\s]+@(?!\.)[^@\s]*\.[^@\s]*[^@\s.]$/; // the server's looksLikeEmail
const BLOCKED = 'Could not send your feedback: this site is not allowed to send feedback here, or the service is unreachable.';
let root, f, trap, launch, send, status, form, dialog, busy = false, key = null, keyFor = '';

const CSS = `:host{all:initial;--bg:#fff;--fg:#1b1f24;--line:#8c959f;--acc:#0b5cad;--on:#fff;--ok:#116329;--bad:#b3261e;
font:14px/1.45 system-ui,sans-serif;color:var(--fg);color-scheme:light dark}
@media (prefers-color-scheme:dark){:host{--bg:#1e2329;--fg:#e8eaed;--line:#6e7781;--acc:#79b8ff;--on:#0b1420;--ok:#7ee2a0;--bad:#ffa198}}
*{box-sizing:border-box;font:inherit;color:inherit}
button,input,textarea{padding:8px;border:1px solid var(--line);border-radius:6px;background:var(--bg)}
button{padding:8px 16px;cursor:pointer}
.tb-launch,.tb-send{background:var(--acc);border-color:var(--acc);color:var(--on);font-weight:600}
.tb-launch{position:fixed;right:16px;bottom:16px;z-index:2147483000;border-radius:99px}
:disabled{opacity:.6}
:focus-visible{outline:3px solid var(--acc);outline-offset:2px}
dialog{width:min(420px,100vw - 32px);padding:20px;border:1px solid var(--line);border-radius:12px;background:var(--bg)}
dialog[open]{animation:tb-in .15s}@keyframes tb-in{from{opacity:0}}
::backdrop{background:#0006}
h2{margin:0;font-size:18px;font-weight:700}
label{display:block;margin:12px 0 4px;font-weight:600}
input,textarea{display:block;width:100%}
[aria-invalid=true]{border-color:var(--bad)}
p{margin:4px 0 0}.tb-bad,.tb-err{color:var(--bad)}.tb-ok{color:var(--ok)}
.tb-hp{position:absolute;left:-9999px}
.tb-actions{display:flex;gap:8px;justify-content:flex-end;margin-top:12px}
@media (prefers-reduced-motion:reduce){*{animation:none!important}}`;

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  e.append(...kids);
  return e;
}

// A label, the control, and the error line that describes it.
function field(k, text, tag, attrs) {
  f[k] = el(tag, { id: 'tb-' + k, name: k, 'aria-describedby': 'tb-' + k + '-err', ...attrs });
  return [el('label', { for: 'tb-' + k }, text), f[k], el('p', { class: 'tb-err', id: 'tb-' + k + '-err', hidden: '' })];
}

function mount() {
  if (document.getElementById('taskbridge-widget')) return;
  const host = el('div', { id: 'taskbridge-widget' });
  root = host.attachShadow({ mode: 'open' });
  // style-src never blocks an adopted sheet (even when our script has a nonce but styles
  // are 'none'); a nonce'd <style> serves browsers without them.
  if ('adoptedStyleSheets' in root) {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } else {
    const s = el('style', {}, CSS);
    s.nonce = me.nonce || ''; // the property: browsers hide the attribute
    root.append(s);
  }
  f = {};
  trap = hp && el('input', { id: 'tb-hp', name: hp, tabindex: '-1', autocomplete: 'off' });
  launch = el('button', { class: 'tb-launch', type: 'button', 'aria-haspopup': 'dialog' }, data.label || 'Feedback');
  send = el('button', { class: 'tb-send', type: 'submit' }, 'Send');
  const close = el('button', { class: 'tb-close', type: 'button' }, 'Close');
  status = el('p', { class: 'tb-status', role: 'status', 'aria-live': 'polite' });
  form = el('form', { class: 'tb-form', novalidate: '' }, // our checks, our messages
    ...field('message', 'Message', 'textarea', { required: '', rows: 5 }),
    ...field('name', 'Name (optional)', 'input', { autocomplete: 'name' }),
    ...field('email', 'Email (optional)', 'input', { type: 'email', autocomplete: 'email' }),
    trap ? el('div', { class: 'tb-hp', 'aria-hidden': 'true' }, el('label', { for: 'tb-hp' }, 'Leave empty'), trap) : '',
    status, el('div', { class: 'tb-actions' }, close, send));
  dialog = el('dialog', { class: 'tb-dialog', 'aria-labelledby': 'tb-title' },
    el('h2', { id: 'tb-title' }, data.title || 'Send feedback'), form);

  launch.addEventListener('click', open);
  close.addEventListener('click', hide);
  dialog.addEventListener('close', () => launch.focus());
  // Without showModal there is no native Escape handling either.
  dialog.addEventListener('keydown', (e) => { if (e.key === 'Escape' && !dialog.showModal) hide(); });
  form.addEventListener('submit', (e) => { e.preventDefault(); submit().catch(() => done(BLOCKED)); });
  root.append(launch, dialog);
  document.body.append(host);
}

function open() {
  if (!dialog || dialog.open) return;
  if (!busy) say('');
  try { dialog.showModal(); } catch (e) { dialog.setAttribute('open', ''); }
  f.message.focus();
}

function hide() {
  if (!dialog) return;
  if (dialog.close) dialog.close(); // its "close" event refocuses the launcher
  else { dialog.removeAttribute('open'); launch.focus(); }
}

function say(text, kind) {
  status.textContent = text;
  status.className = 'tb-status' + (kind ? ' tb-' + kind : '');
}

function mark(k, problem) {
  const err = f[k].nextSibling;
  err.textContent = problem;
  err.hidden = !problem;
  f[k].setAttribute('aria-invalid', !!problem);
}

// The server's rules, checked here to show each problem next to its field.
function check() {
  const v = {};
  let first = null;
  for (const k in LIMITS) {
    const s = f[k].value.trim(), n = [...s].length; // code points, as the server counts
    const problem = k === 'message' && !n ? 'Please write a message.'
      : n > LIMITS[k] ? `This is ${n} characters long; the limit is ${LIMITS[k]}.`
      : k === 'email' && n && !EMAIL.test(s) ? 'This is not an email address.' : '';
    mark(k, problem);
    first = first || (problem && f[k]);
    if (s) v[k] = s;
  }
  if (first) first.focus();
  return first ? null : v;
}

function newKey() {
  return crypto.randomUUID ? crypto.randomUUID() // secure contexts only
    : Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function submit() {
  const body = !busy && check();
  if (!body) return;
  // One key per message: a resend after a failure is stored once.
  const sig = JSON.stringify(body);
  if (!key || sig !== keyFor) { key = newKey(); keyFor = sig; }
  // Where the visitor was, without query or fragment: those can carry reset tokens or OAuth codes.
  if (/^https?:$/.test(location.protocol)) body.page = (location.origin + location.pathname).slice(0, 2048);
  // Only a filled trap is sent: people leave it empty, and a server whose honeypot is
  // renamed or off would refuse an empty field it does not know.
  if (trap && trap.value) body[hp] = trap.value;
  busy = send.disabled = true;
  say('Sending\u2026');
  const ctl = new AbortController(), timer = setTimeout(() => ctl.abort(), 15000);
  try {
    const res = await fetch(endpoint, {
      method: 'POST', signal: ctl.signal, body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key }
    });
    const json = await res.json().catch(() => null), s = res.status;
    const err = json && typeof json.error === 'string' ? json.error : '';
    if (res.ok) {
      form.reset();
      key = null;
      return done('Thanks \u2014 your feedback was sent.', 'ok');
    }
    if (s === 429) {
      const n = parseInt(res.headers.get('Retry-After'), 10); // needs Access-Control-Expose-Headers
      return done(n >= 0 ? `Too many messages; try again in ${n} s.` : 'Too many messages; try again later.');
    }
    if (s === 403) return done(BLOCKED);
    if (s >= 500) return done('The feedback service is unavailable; try again later.');
    const m = /field "(\w+)"/.exec(err); // also show it at the field it names
    if (m && f[m[1]]) mark(m[1], err);
    done(err || `Could not send your feedback (HTTP ${s}).`);
  } catch (e) {
    // TypeError: network or CORS failure; AbortError: our timeout.
    done(e.name === 'AbortError' ? 'The feedback service did not answer; try again.' : BLOCKED);
  } finally {
    clearTimeout(timer);
  }
}

function done(text, kind = 'bad') {
  busy = send.disabled = false;
  say(text, kind);
  if (!root.activeElement) send.focus(); // it lost focus when disabled
}

window.TaskBridgeWidget = Object.freeze({ open, close: hide, version: '1.0.0' });
const start = () => { try { mount(); } catch (e) { console.warn('TaskBridge widget:', e); } };
if (document.body) start(); else document.addEventListener('DOMContentLoaded', start);
})();
