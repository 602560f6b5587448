/* TaskBridge console.
   Everything the admin API returns is untrusted (payloads and headers come from the internet), so the
   DOM is built with createElement/textContent only, and the strict CSP forbids inline code anyway. */
(() => {
  'use strict';

  // The page is always served at <prefix>/admin/, so addresses relative to it need no
  // knowledge of the prefix (which may itself contain "/admin").
  const API = 'api/';
  const PAGE = 50;
  const POLL_MS = 5000;
  const main = document.getElementById('main');
  const flashEl = document.getElementById('flash');
  const updatedEl = document.getElementById('updated');
  // Thrown after a 401: the page is leaving for the login page, so nothing should be reported.
  const HALT = Symbol('signed out');

  class ApiError extends Error {}

  let csrf = '';
  let inFlight = 0;
  let cur = null; // the mounted view: route, data, details state …

  // ---------------------------------------------------------------- DOM helpers

  const safeUrl = (u) => typeof u === 'string' && /^https?:\/\//i.test(u);

  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    let value = null;
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false || /^on/i.test(k)) continue;
      if (k === 'class') el.className = v;
      else if (k === 'value') value = v;
      else if (k === 'href') {
        // Our own routes, or a plain web URL; never javascript:, data: …
        if (safeUrl(v) || /^#\//.test(v)) el.setAttribute('href', v);
      } else el.setAttribute(k, v === true ? '' : String(v));
    }
    add(el, kids);
    if (value != null) el.value = String(value); // after the options of a <select>
    return el;
  }

  function add(el, kids) {
    for (const k of kids) {
      if (k == null || k === false) continue;
      if (Array.isArray(k)) add(el, k);
      else el.append(k instanceof Node ? k : String(k));
    }
  }

  function frag(...kids) {
    const f = document.createDocumentFragment();
    add(f, kids);
    return f;
  }

  // ---------------------------------------------------------------- data helpers (never throw on odd shapes)

  const arr = (v) => (Array.isArray(v) ? v : []);
  const obj = (v) => (v && typeof v === 'object' && !Array.isArray(v) ? v : {});
  const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const enc = (v) => encodeURIComponent(v == null ? '' : String(v));

  function txt(v) {
    if (v == null || v === '') return '—';
    if (typeof v === 'object') {
      try { return JSON.stringify(v); } catch (_) { return '[object]'; }
    }
    return String(v);
  }

  function pretty(v) {
    if (typeof v === 'string') return v;
    try { return JSON.stringify(v, null, 2) ?? '—'; } catch (_) { return String(v); }
  }

  const listText = (v) => (Array.isArray(v) ? v.map(txt).join(', ') || '—' : txt(v));
  const money = (v) => (num(v) == null ? '—' : '$' + v.toFixed(2));
  const ms = (v) => (num(v) == null ? '—' : Math.round(v) + ' ms');
  const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

  function code(v, n) {
    const s = txt(v);
    if (s === '—') return s;
    return n && s.length > n ? h('code', { title: s }, s.slice(0, n)) : h('code', {}, s);
  }

  const td = (v) => h('td', {}, v instanceof Node || Array.isArray(v) ? v : txt(v));
  const badge = (v) => h('span', { class: 'badge', 'data-status': txt(v) }, txt(v));
  const eventBadge = (e) => badge(e.delivery && e.delivery !== 'none' ? e.delivery : e.status);

  function toDate(v) {
    if (v == null || v === '') return null;
    const d = new Date(typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v);
    return Number.isNaN(d.getTime()) ? null : d;
  }

  function ago(d) {
    const s = Math.round((Date.now() - d.getTime()) / 1000);
    const a = Math.abs(s);
    if (a < 5) return 'just now';
    const t = a < 60 ? `${a} s` : a < 3600 ? `${Math.round(a / 60)} min`
      : a < 86400 ? `${Math.round(a / 3600)} h` : `${Math.round(a / 86400)} d`;
    return s >= 0 ? `${t} ago` : `in ${t}`;
  }

  function dur(v) {
    const s = num(v);
    if (s == null) return '—';
    if (s < 60) return `${Math.round(s)} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
    if (s < 172800) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
    return `${Math.floor(s / 86400)} d`;
  }

  // Local time, the server's string in the title, and a relative age the poll keeps fresh.
  function when(v) {
    const d = toDate(v);
    if (!d) return txt(v);
    const iso = d.toISOString();
    return h('span', { class: 'when' },
      h('time', { datetime: iso, title: typeof v === 'string' ? v : iso }, d.toLocaleString()),
      ' ', h('span', { class: 'ago', 'data-t': iso }, ago(d)));
  }

  function table(attrs, label, head, rows, empty) {
    const body = rows.length ? rows
      : [h('tr', {}, h('td', { colspan: head.length, class: 'empty' }, empty))];
    // A focusable, labelled region so keyboard users can scroll wide tables sideways.
    return h('div', { class: 'table-wrap', role: 'region', 'aria-label': label, tabindex: '0' },
      h('table', attrs,
        h('thead', {}, h('tr', {}, head.map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, body)));
  }

  function meta(pairs) {
    return h('dl', { class: 'meta' }, pairs.filter(Boolean).map(([k, v]) => [
      h('dt', {}, k),
      h('dd', {}, v instanceof Node || Array.isArray(v) ? v : txt(v)),
    ]));
  }

  // data-key lets a re-render give every <details> back the open state the user chose.
  const fold = (key, label, content, open, id) =>
    h('details', { 'data-key': key, id, open: !!open }, h('summary', {}, label), h('pre', {}, content));

  function linkList(links) {
    return h('ul', { class: 'links' }, links.map((l) => h('li', {},
      safeUrl(l.url)
        ? h('a', { href: l.url, rel: 'noopener noreferrer', target: '_blank' }, txt(l.title || l.url))
        : `${txt(l.title)}${l.url ? ' (' + txt(l.url) + ')' : ''}`)));
  }

  // ---------------------------------------------------------------- feedback

  function flash(msg, isError) {
    const cls = msg ? (isError ? 'error' : 'ok') : '';
    // Same text again would make screen readers repeat it every poll.
    if (flashEl.textContent === (msg || '') && flashEl.className === cls) return;
    flashEl.textContent = msg || '';
    flashEl.className = cls;
  }

  function report(e) {
    if (e === HALT) return;
    if (e instanceof ApiError) flash(e.message, true);
    else {
      flash('Something went wrong in the console: ' + ((e && e.message) || String(e)), true);
      console.error(e);
    }
  }

  function stamp() {
    const d = new Date();
    updatedEl.textContent = d.toLocaleTimeString();
    updatedEl.title = d.toISOString();
  }

  function updateAges() {
    for (const el of main.querySelectorAll('.ago[data-t]')) {
      const d = toDate(el.getAttribute('data-t'));
      if (d) el.textContent = ago(d);
    }
  }

  // ---------------------------------------------------------------- API

  async function call(method, path) {
    inFlight++;
    try {
      const headers = { Accept: 'application/json' };
      if (method === 'POST') headers['X-CSRF-Token'] = csrf;
      let res;
      try {
        res = await fetch(API + path, { method, headers, credentials: 'same-origin', cache: 'no-store' });
      } catch (e) {
        throw new ApiError(`Cannot reach TaskBridge (${(e && e.message) || 'network error'}).`);
      }
      if (res.status === 401) {
        location.assign('login');
        throw HALT;
      }
      let body = null;
      try { body = await res.json(); } catch (_) { /* not JSON: handled below */ }
      if (!res.ok) {
        let msg = body && typeof body.error === 'string' ? body.error : `${method} ${path}: HTTP ${res.status}`;
        if (res.status === 403 && method === 'POST') {
          // Most likely a stale CSRF token (signed in again elsewhere): take the current one once.
          try { await loadSession(); msg += ' (session refreshed; try again)'; } catch (e) { if (e === HALT) throw e; }
        }
        throw new ApiError(msg);
      }
      if (body == null || typeof body !== 'object') throw new ApiError(`${method} ${path}: the answer is not JSON.`);
      return body;
    } finally {
      inFlight--;
    }
  }

  async function loadSession() {
    const s = await call('GET', 'session');
    csrf = typeof s.csrfToken === 'string' ? s.csrfToken : '';
    const input = document.querySelector('#sign-out-form input[name="csrf"]');
    if (input) input.value = csrf;
    const exp = toDate(s.expiresAt);
    const btn = document.getElementById('sign-out');
    if (btn && exp) btn.title = 'Session expires ' + exp.toLocaleString();
  }

  // Runs a POST for a button: disabled meanwhile, errors to #flash, then the view refreshes.
  async function act(btn, fn) {
    if (btn.disabled) return;
    btn.disabled = true;
    btn.setAttribute('aria-busy', 'true');
    try {
      await fn();
    } catch (e) {
      report(e);
      if (e === HALT) return;
    } finally {
      btn.disabled = false;
      btn.removeAttribute('aria-busy');
      // Disabling a focused button drops focus; give it back so the re-render can restore it.
      if (btn.isConnected && (document.activeElement === document.body || !document.activeElement)) btn.focus();
    }
    refresh();
  }

  function query(params, keys) {
    const p = new URLSearchParams();
    for (const k of keys) {
      const v = params.get(k);
      if (v) p.set(k, v);
    }
    return p;
  }

  // ---------------------------------------------------------------- filters (reflected into the hash)

  const pad = (n) => String(n).padStart(2, '0');

  function toLocalInput(v) {
    const d = toDate(v);
    return d ? `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}` : '';
  }

  function toIso(v) {
    const d = new Date(v); // a datetime-local value is local time
    return Number.isNaN(d.getTime()) ? v : d.toISOString();
  }

  function filterForm(v, params) {
    const id = v.filters.id;
    const form = h('form', { id, class: 'filters', role: 'search', 'aria-label': v.title + ' filters', 'data-route': v.route },
      v.filters.fields.map((f) => {
        const fid = `${id}-${f.name}`;
        const input = f.options
          ? h('select', { id: fid, name: f.name },
            h('option', { value: '' }, 'Any'), f.options.map((o) => h('option', { value: o }, o)))
          : h('input', { id: fid, name: f.name, type: f.type || 'text', autocomplete: 'off', spellcheck: 'false' });
        return h('div', { class: 'field' }, h('label', { for: fid }, f.label), input);
      }),
      h('div', { class: 'field actions' },
        h('button', { type: 'submit' }, 'Apply'),
        h('button', { type: 'button', class: 'clear' }, 'Clear')));
    fillForm(form, params);
    return form;
  }

  function fillForm(form, params) {
    for (const el of form.elements) {
      if (!el.name) continue;
      const v = params.get(el.name) || '';
      el.value = el.type === 'datetime-local' ? toLocalInput(v) : v;
    }
  }

  function formParams(form) {
    const p = new URLSearchParams();
    for (const el of form.elements) {
      if (!el.name || !el.value.trim()) continue;
      p.set(el.name, el.type === 'datetime-local' ? toIso(el.value) : el.value.trim());
    }
    return p;
  }

  function go(route, params) {
    const qs = params ? params.toString() : '';
    const hash = '#/' + route + (qs ? '?' + qs : '');
    if (location.hash === hash) refresh();
    else location.hash = hash;
  }

  // ---------------------------------------------------------------- views

  const EVENT_KEYS = ['source', 'type', 'status', 'delivery', 'since', 'until', 'q'];
  const DEAD_KEYS = ['source', 'type', 'target', 'rule', 'since', 'until'];
  const RUN_KEYS = ['agent', 'state'];
  const RUN_STATES = ['queued', 'starting', 'working', 'finishing', 'done', 'completed', 'failed', 'stopped'];
  const filtered = (c, keys) => keys.some((k) => c.route.params.get(k));

  const eventsView = {
    title: 'Events', nav: 'events', route: 'events',
    filters: {
      id: 'events-filter',
      fields: [
        { name: 'q', label: 'Event id or dedupe key', type: 'search' },
        { name: 'source', label: 'Source' },
        { name: 'type', label: 'Type' },
        { name: 'delivery', label: 'Delivery', options: ['planned', 'delivered', 'failed', 'dead'] },
        { name: 'since', label: 'From', type: 'datetime-local' },
        { name: 'until', label: 'Until', type: 'datetime-local' },
      ],
    },
    async load(c) {
      // Refresh everything already shown, including pages added with "Load more".
      const p = query(c.route.params, EVENT_KEYS);
      p.set('limit', String(Math.min(1000, Math.max(PAGE, c.shown))));
      const d = await call('GET', 'events?' + p);
      return { events: arr(d.events), nextCursor: d.nextCursor ?? null };
    },
    render(d, c) {
      c.shown = d.events.length;
      return frag(
        table({ id: 'events-table' }, 'Events',
          ['Event', 'Received', 'Source', 'Type', 'Dedupe key', 'Delivery', 'Jobs'],
          d.events.map(obj).map((e) => h('tr', { 'data-event-id': txt(e.id) },
            h('td', {}, h('a', { href: '#/events/' + enc(e.id) }, code(e.id))),
            td(when(e.receivedAt)), td(e.source), td(e.type), td(code(e.dedupeKey)),
            td(eventBadge(e)), td(e.jobs))),
          filtered(c, EVENT_KEYS) ? 'No events match these filters.' : 'No events yet.'),
        d.nextCursor != null
          ? h('p', { class: 'more' }, h('button', { id: 'events-more', type: 'button' }, 'Load more'))
          : null);
    },
  };

  async function loadMore(btn) {
    const c = cur;
    if (!c || !c.data || c.data.nextCursor == null || btn.disabled) return;
    const p = query(c.route.params, EVENT_KEYS);
    p.set('limit', String(PAGE));
    p.set('before', String(c.data.nextCursor));
    const seq = ++c.seq; // a refresh in flight must not overwrite the longer list
    const before = c.data.events.length;
    btn.disabled = true;
    try {
      const d = await call('GET', 'events?' + p);
      if (c !== cur || seq !== c.seq) return;
      const seen = new Set(c.data.events.map((e) => obj(e).id));
      show(c, {
        events: c.data.events.concat(arr(d.events).filter((e) => !seen.has(obj(e).id))),
        nextCursor: d.nextCursor ?? null,
      });
      if (!c.body.contains(document.activeElement)) {
        // The button is gone (last page): continue at the first new row.
        const row = c.body.querySelectorAll('#events-table tbody tr')[before];
        const a = row && row.querySelector('a');
        if (a) a.focus();
      }
    } catch (e) {
      report(e);
    } finally {
      btn.disabled = false;
    }
  }

  function jobCard(j) {
    const attempts = arr(j.attempts);
    const tried = attempts.length > 0 || num(j.attempts) > 0;
    const canRetry = j.state === 'dead' || (j.state === 'pending' && tried);
    const links = arr(j.links).map(obj);
    const outputs = obj(j.outputs);
    return h('article', { class: 'job', 'data-job-id': txt(j.id) },
      h('h3', {}, badge(j.state), ' Job ', code(j.id)),
      meta([
        ['Target', j.target],
        ['Rule', [code(j.rule), j.ruleVersion ? [' · version ', code(j.ruleVersion, 12)] : null]],
        ['Step', j.step],
        j.orderingKey != null ? ['Ordering key', code(j.orderingKey)] : null,
        ['Due', when(j.dueAt)],
        ['Created', when(j.createdAt)],
        ['Updated', when(j.updatedAt)],
        j.lastError ? ['Last error', h('span', { class: 'error-text' }, txt(j.lastError))] : null,
        links.length ? ['In the target', linkList(links)] : null,
      ]),
      canRetry ? h('p', {}, h('button', { class: 'retry-job', type: 'button' }, 'Retry')) : null,
      Object.keys(outputs).length ? fold('out:' + txt(j.id), 'Step outputs', pretty(outputs)) : null,
      table({ class: 'attempts' }, 'Attempts of job ' + txt(j.id),
        ['Time', 'Step', 'Latency', 'Status', 'Outcome', 'Error', 'Request', 'Response'],
        attempts.map(obj).map((a, i) => h('tr', {},
          td(when(a.startedAt)), td(a.step), td(ms(a.latencyMs)), td(a.status),
          td(a.outcome ? badge(a.outcome) : '—'),
          h('td', { class: a.error ? 'error-text' : null }, txt(a.error)),
          td(a.request == null ? '—' : fold(`req:${txt(j.id)}:${i}`, 'Request', pretty(a.request))),
          td(a.response == null ? '—' : fold(`res:${txt(j.id)}:${i}`, 'Response', pretty(a.response))))),
        'No attempts yet.'));
  }

  const eventView = {
    title: 'Event', nav: 'events',
    heading: (r) => 'Event ' + r.id,
    load: (c) => call('GET', 'events/' + enc(c.route.id)),
    render(d) {
      const e = obj(d);
      const jobs = arr(e.jobs).map(obj);
      const versions = {};
      for (const j of jobs) if (j.ruleVersion && versions[j.rule] == null) versions[j.rule] = j.ruleVersion;
      const rules = arr(e.matchedRules).map((r) => {
        const id = r && typeof r === 'object' ? r.id : r;
        const ver = (r && typeof r === 'object' && r.version) || versions[id];
        return h('li', {}, code(id), ver ? [' · version ', code(ver, 12)] : null);
      });
      return h('section', { id: 'event-detail', 'data-event-id': txt(e.id) },
        h('p', { class: 'toolbar' },
          h('a', { href: '#/events' }, '← All events'),
          h('button', { id: 'replay-event', type: 'button' }, 'Replay')),
        meta([
          ['Delivery', eventBadge(e)],
          ['Status', badge(e.status)],
          ['Source', e.source],
          ['Type', e.type],
          ['Dedupe key', code(e.dedupeKey)],
          ['Received', when(e.receivedAt)],
          ['Client IP', e.clientIp],
          ['Content type', e.contentType],
        ]),
        h('h2', {}, 'Headers'),
        table({ id: 'event-headers' }, 'Headers', ['Name', 'Value'],
          Object.entries(obj(e.headers)).map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), td(v))),
          'No headers kept.'),
        fold('payload', 'Payload', pretty(e.payload), true, 'event-payload'),
        h('h2', {}, 'Matched rules'),
        rules.length ? h('ul', { class: 'matched-rules' }, rules) : h('p', { class: 'muted' }, 'No rule matched.'),
        h('h2', {}, `Jobs (${jobs.length})`),
        jobs.length ? jobs.map(jobCard) : h('p', { class: 'muted' }, 'No jobs were planned for this event.'));
    },
  };

  const deadView = {
    title: 'Dead letters', nav: 'dead-letters', route: 'dead-letters',
    filters: {
      id: 'dead-filter',
      fields: [
        { name: 'source', label: 'Source' },
        { name: 'type', label: 'Type' },
        { name: 'target', label: 'Target' },
        { name: 'rule', label: 'Rule' },
      ],
    },
    tools: () => h('p', { class: 'toolbar' }, h('button', { id: 'retry-all', type: 'button' }, 'Retry all matching')),
    async load(c) {
      const p = query(c.route.params, DEAD_KEYS);
      p.set('state', 'dead');
      p.set('limit', '500');
      return { jobs: arr((await call('GET', 'jobs?' + p)).jobs) };
    },
    render(d, c) {
      return frag(
        table({ id: 'dead-table' }, 'Dead letters',
          ['Job', 'Event', 'Source / type', 'Target', 'Rule', 'Attempts', 'Reason', 'Updated', 'Action'],
          d.jobs.map(obj).map((j) => h('tr', { 'data-job-id': txt(j.id) },
            td(code(j.id)),
            td(j.event == null ? '—' : h('a', { href: '#/events/' + enc(j.event) }, code(j.event))),
            td([txt(j.source), h('span', { class: 'sub' }, txt(j.type))]),
            td(j.target), td(code(j.rule)), td(j.attempts),
            h('td', { class: 'error-text reason' }, txt(j.lastError)),
            td(when(j.updatedAt)),
            td(h('button', { class: 'retry-job', type: 'button' }, 'Retry')))),
          filtered(c, DEAD_KEYS) ? 'No dead letters match these filters.' : 'No dead letters.'),
        d.jobs.length >= 500 ? h('p', { class: 'muted' }, 'Showing the newest 500.') : null);
    },
  };

  function retryAll(btn) {
    const c = cur;
    const p = query(c.route.params, DEAD_KEYS);
    const desc = Array.from(p, ([k, v]) => `${k} = ${v}`).join(', ');
    const shown = c.data ? c.data.jobs.length : 0;
    const ask = desc ? `Retry every dead letter matching ${desc}?` : 'Retry every dead letter?';
    if (!window.confirm(`${ask} (${shown} shown here)`)) return;
    act(btn, async () => {
      const qs = p.toString();
      const r = await call('POST', 'dead-letters/retry' + (qs ? '?' + qs : ''));
      flash(`Retried ${plural(num(r.retried) ?? 0, 'dead letter')}`);
    });
  }

  const targetsView = {
    title: 'Targets', nav: 'targets',
    load: async () => ({ targets: arr((await call('GET', 'targets')).targets) }),
    render: (d) => table({ id: 'targets-table' }, 'Targets',
      ['Target', 'Kind', 'Breaker', 'Auth', 'Due now', 'Oldest due', 'Pending', 'Running', 'Waiting', 'Dead'],
      d.targets.map(obj).map((t) => {
        const jobs = obj(t.jobs);
        const dead = num(jobs.dead);
        return h('tr', { 'data-target': txt(t.name) },
          h('th', { scope: 'row' }, txt(t.name)), td(t.kind),
          td([badge(t.breaker), num(t.reopensInSeconds) != null
            ? h('span', { class: 'sub' }, 'next try in ' + dur(t.reopensInSeconds)) : null]),
          td([t.authPaused ? [badge('paused'), h('span', { class: 'sub' }, txt(t.authPaused))] : null,
            h('span', { class: 'sub' }, plural(num(t.authFailures) ?? 0, 'auth failure'))]),
          td(t.queueDepth), td(dur(t.oldestDueAgeSeconds)),
          td(jobs.pending), td(jobs.running), td(jobs.waiting),
          td(dead ? h('a', { href: '#/dead-letters?target=' + enc(t.name) }, String(dead)) : txt(jobs.dead)));
      }),
      'No targets configured.'),
  };

  const rulesView = {
    title: 'Rules', nav: 'rules',
    load: () => call('GET', 'rules'),
    render(d) {
      const r = obj(d);
      const files = arr(r.files);
      return frag(
        h('p', { id: 'rules-version' }, 'Version ', code(r.version, 12), ' · loaded ', when(r.loadedAt),
          ' · last reload ', r.lastReloadAt ? when(r.lastReloadAt) : 'never'),
        r.lastReloadError
          ? h('p', { id: 'rules-reload-error', class: 'error' },
            'The last reload failed, so the version above is still in use: ' + txt(r.lastReloadError))
          : null,
        files.length ? fold('files', `Files (${files.length})`, files.map(txt).join('\n')) : null,
        table({ id: 'rules-table' }, 'Rules',
          ['Rule', 'Description', 'Sources', 'Events', 'Target', 'State', 'File', 'Version'],
          arr(r.rules).map(obj).map((x) => h('tr', { 'data-rule-id': txt(x.id) },
            h('th', { scope: 'row' }, code(x.id)), td(x.description), td(listText(x.sources)),
            td(listText(x.events)), td(x.target), td(badge(x.enabled === false ? 'disabled' : 'enabled')),
            td(x.file), td(code(x.version, 12)))),
          'No rules loaded.'));
    },
  };

  function agentsTable(agents) {
    return table({ id: 'agents-table' }, 'Agents',
      ['Agent', 'Backend', 'Runs by state', 'Active', 'Limits', 'Last poll', 'Problem'],
      agents.map(obj).map((a) => {
        const b = obj(a.backend);
        const byState = Object.entries(obj(a.runs)).map(([k, v]) => `${k} ${txt(v)}`).join(', ');
        return h('tr', { 'data-agent': txt(a.name) },
          h('th', { scope: 'row' }, txt(a.name)),
          td([`${txt(b.kind)} · ${txt(b.target)}`, b.repository || b.project
            ? h('span', { class: 'sub' }, [b.repository, b.project].filter(Boolean).map(txt).join(' · ')) : null]),
          td(byState || '—'), td(a.activeRuns),
          td([`${txt(a.concurrency)} at once`, h('span', { class: 'sub' },
            `${txt(a.maxRunMinutes)} min per run · ${a.maxCostUsdPerDay == null ? 'no cost cap' : money(a.maxCostUsdPerDay) + ' a day'}`)]),
          td([when(a.lastPollAt), num(a.pollFailures) ? h('span', { class: 'sub error-text' }, plural(a.pollFailures, 'failure')) : null]),
          h('td', { class: a.problem ? 'error-text' : null }, txt(a.problem)));
      }),
      'No agents configured.');
  }

  function backendText(b) {
    return [b.status, b.step != null ? 'step ' + txt(b.step) : null, b.uncertain ? 'uncertain' : null]
      .filter((x) => x != null && x !== '').map(txt).join(' · ') || '—';
  }

  const prLink = (u) => (safeUrl(u) ? h('a', { href: u, rel: 'noopener noreferrer', target: '_blank' }, 'Pull request') : txt(u));

  function runsTable(runs, c) {
    return table({ id: 'runs-table' }, 'Runs',
      ['Run', 'Agent', 'State', 'Task', 'Backend', 'Cost', 'Started', 'Updated', 'Error'],
      runs.map(obj).map((r) => {
        const t = obj(r.task);
        const b = obj(r.backend);
        return h('tr', { 'data-run-id': txt(r.id) },
          td(h('a', { href: '#/runs/' + enc(r.id) }, code(r.id))), td(r.agent), td(badge(r.state)),
          td([txt(t.title), h('span', { class: 'sub' }, txt(t.id))]),
          td([backendText(b), b.prUrl ? h('span', { class: 'sub' }, prLink(b.prUrl)) : null]),
          td(money(r.costUsd)), td(when(r.startedAt)), td(when(r.updatedAt)),
          h('td', { class: r.error || r.lastError ? 'error-text' : null }, txt(r.error || r.lastError)));
      }),
      filtered(c, RUN_KEYS) ? 'No runs match these filters.' : 'No agent runs yet.');
  }

  const runsView = {
    title: 'Agent runs', nav: 'runs', route: 'runs',
    filters: {
      id: 'runs-filter',
      fields: [{ name: 'agent', label: 'Agent' }, { name: 'state', label: 'State', options: RUN_STATES }],
    },
    async load(c) {
      const p = query(c.route.params, RUN_KEYS);
      p.set('limit', '100');
      const [a, r] = await Promise.all([call('GET', 'agents'), call('GET', 'runs?' + p)]);
      return { agents: arr(a.agents), runs: arr(r.runs) };
    },
    render: (d, c) => frag(h('h2', {}, 'Agents'), agentsTable(d.agents), h('h2', {}, 'Runs'), runsTable(d.runs, c)),
  };

  const runView = {
    title: 'Agent run', nav: 'runs',
    heading: (r) => 'Agent run ' + r.id,
    load: (c) => call('GET', 'runs/' + enc(c.route.id)),
    render(d) {
      const r = obj(d);
      const t = obj(r.task);
      const b = obj(r.backend);
      const comments = arr(r.comments);
      return h('section', { id: 'run-detail', 'data-run-id': txt(r.id) },
        h('p', { class: 'toolbar' }, h('a', { href: '#/runs' }, '← All runs')),
        meta([
          ['State', badge(r.state)],
          ['Agent', r.agent],
          ['Task', [txt(t.title), ' ', code(t.id)]],
          ['Turn', r.turn],
          ['Backend', `${txt(b.kind)} · ${txt(b.target)}`],
          ['Progress', backendText(b)],
          ['Backend task', b.taskSlug || b.taskId],
          ['Backend run', b.runId],
          ['Branch', b.branch],
          ['Pull request', prLink(b.prUrl)],
          ['Cost', money(r.costUsd)],
          ['Appeared', when(r.appearedAt)],
          ['Discovered', when(r.discoveredAt)],
          ['Picked up after', dur(r.pickupSeconds)],
          ['Started', when(r.startedAt)],
          ['Finished', when(r.finishedAt)],
          ['Updated', when(r.updatedAt)],
          r.pendingIntent ? ['Pending', r.pendingIntent] : null,
          r.summary ? ['Summary', r.summary] : null,
          r.error ? ['Error', h('span', { class: 'error-text' }, txt(r.error))] : null,
          r.lastError ? ['Last error', h('span', { class: 'error-text' }, txt(r.lastError))] : null,
        ]),
        comments.length ? [h('h2', {}, 'Comments'), h('ol', { class: 'comments' }, comments.map((x) => h('li', {}, h('pre', {}, pretty(x)))))] : null,
        r.prompt != null ? fold('prompt', 'Prompt', pretty(r.prompt)) : null,
        h('h2', {}, 'Calls'),
        table({ class: 'calls' }, 'Calls', ['Time', 'API', 'Status', 'Latency', 'Request', 'Response'],
          arr(r.calls).map(obj).map((x, i) => h('tr', {},
            td(when(x.at)), td(x.api), td(x.status), td(ms(x.latencyMs)),
            td(x.request == null ? '—' : fold('creq:' + i, 'Request', pretty(x.request))),
            td(x.response == null ? '—' : fold('cres:' + i, 'Response', pretty(x.response))))),
          'No calls recorded.'),
        // Fields this console does not know yet are still visible here.
        fold('raw', 'All fields (JSON)', pretty(d)));
    },
  };

  const notFoundView = {
    title: 'Not found', nav: '',
    load: async () => ({}),
    render: () => h('p', {}, 'There is no such page. ', h('a', { href: '#/events' }, 'Go to the events'), '.'),
  };

  const topViews = { events: eventsView, 'dead-letters': deadView, targets: targetsView, rules: rulesView, runs: runsView };
  const detailViews = { events: eventView, runs: runView };
  const has = (o, k) => Object.prototype.hasOwnProperty.call(o, k);

  // ---------------------------------------------------------------- router, rendering, polling

  function parseRoute() {
    const raw = location.hash.replace(/^#\/?/, '');
    const qi = raw.indexOf('?');
    const path = qi < 0 ? raw : raw.slice(0, qi);
    const parts = path.split('/').filter(Boolean).map((p) => {
      try { return decodeURIComponent(p); } catch (_) { return p; }
    });
    const name = parts[0] || 'events';
    const id = parts.slice(1).join('/') || null;
    return { name, id, key: name + '/' + (id || ''), params: new URLSearchParams(qi < 0 ? '' : raw.slice(qi + 1)) };
  }

  function pickView(r) {
    if (r.id) return has(detailViews, r.name) ? detailViews[r.name] : notFoundView;
    return has(topViews, r.name) ? topViews[r.name] : notFoundView;
  }

  function mount(r) {
    const v = pickView(r);
    for (const a of document.querySelectorAll('nav a[data-nav]')) {
      if (a.getAttribute('data-nav') === v.nav) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    document.title = `${v.heading ? v.heading(r) : v.title} · TaskBridge console`;
    const body = h('div', { class: 'view-body', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading…'));
    const form = v.filters ? filterForm(v, r.params) : null;
    // On the first page of a visit focus stays at the top (Tab reaches the skip link);
    // after a route change it moves to the new page.
    const first = cur === null;
    cur = { route: r, key: r.key, view: v, body, form, seq: 0, last: '', data: null, open: new Map(), shown: 0, failedMsg: '' };
    main.replaceChildren(frag(h('h1', {}, v.heading ? v.heading(r) : v.title), form, v.tools ? v.tools(r) : null, body));
    if (!first) main.focus();
    refresh();
  }

  function onHash() {
    if (location.hash === '#main') return; // the skip link, if it ever acts natively
    const r = parseRoute();
    if (cur && cur.key === r.key) {
      // Same page, other filters (submit or Back): keep the form, reload the results.
      cur.route = r;
      cur.shown = 0;
      cur.last = '';
      if (cur.form) fillForm(cur.form, r.params);
      cur.body.setAttribute('aria-busy', 'true');
      refresh();
      return;
    }
    flash('');
    mount(r);
  }

  async function refresh() {
    const c = cur;
    if (!c) return;
    const seq = ++c.seq;
    try {
      const data = await c.view.load(c);
      if (c !== cur || seq !== c.seq) return;
      show(c, data);
      if (c.failedMsg && flashEl.textContent === c.failedMsg) flash('');
      c.failedMsg = '';
    } catch (e) {
      if (c !== cur || seq !== c.seq || e === HALT) return;
      report(e);
      c.failedMsg = flashEl.textContent;
      if (!c.data) {
        c.body.removeAttribute('aria-busy');
        c.body.replaceChildren(h('p', { class: 'error' }, 'Could not load this page: ' + (e.message || String(e))));
      }
    }
  }

  function show(c, data) {
    c.data = data;
    const json = JSON.stringify(data);
    // Unchanged data: leave the DOM alone (selection, focus and open details stay as they are).
    if (json !== c.last) {
      c.last = json;
      swap(c, c.view.render(data, c));
    }
    c.body.removeAttribute('aria-busy');
    stamp();
  }

  // Identifies "the same control" across a re-render, so focus can be put back on it.
  function sig(el, box) {
    if (!el || el === box || !box.contains(el)) return null;
    const holder = el.closest('[data-key],[data-job-id],[data-event-id],[data-run-id],[data-target]');
    const hk = holder
      ? ['data-key', 'data-job-id', 'data-event-id', 'data-run-id', 'data-target'].map((k) => holder.getAttribute(k) || '').join(',')
      : '';
    return [el.tagName, el.id, el.className, el.getAttribute('href') || '', el.textContent.slice(0, 60), hk].join('|');
  }

  function swap(c, node) {
    const box = c.body;
    for (const d of box.querySelectorAll('details[data-key]')) c.open.set(d.getAttribute('data-key'), d.open);
    const focus = sig(document.activeElement, box);
    const wraps = Array.from(box.querySelectorAll('.table-wrap'), (w) => w.scrollLeft);
    const x = window.scrollX;
    const y = window.scrollY;
    box.replaceChildren(node);
    for (const d of box.querySelectorAll('details[data-key]')) {
      const k = d.getAttribute('data-key');
      if (c.open.has(k)) d.open = c.open.get(k);
    }
    box.querySelectorAll('.table-wrap').forEach((w, i) => { if (wraps[i]) w.scrollLeft = wraps[i]; });
    if (focus) {
      const el = Array.from(box.querySelectorAll('a[href],button,summary,input,select,textarea,[tabindex]'))
        .find((e) => sig(e, box) === focus);
      if (el) el.focus({ preventScroll: true });
    }
    window.scrollTo(x, y);
  }

  // ---------------------------------------------------------------- actions (delegated: views re-render)

  main.addEventListener('submit', (e) => {
    const form = e.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains('filters')) return;
    e.preventDefault();
    go(form.getAttribute('data-route'), formParams(form));
  });

  main.addEventListener('click', (e) => {
    const b = e.target instanceof Element ? e.target.closest('button') : null;
    if (!b || !main.contains(b) || b.disabled) return;
    if (b.classList.contains('clear') && b.form) {
      go(b.form.getAttribute('data-route'));
    } else if (b.classList.contains('retry-job')) {
      const holder = b.closest('[data-job-id]');
      const id = holder && holder.getAttribute('data-job-id');
      if (!id) return;
      act(b, async () => {
        const r = await call('POST', `jobs/${enc(id)}/retry`);
        flash(`Retried job ${id}: it is ${txt(r.state || 'pending')} and due now`);
      });
    } else if (b.id === 'replay-event') {
      const section = b.closest('[data-event-id]');
      const id = section && section.getAttribute('data-event-id');
      if (!id) return;
      act(b, async () => {
        const r = await call('POST', `events/${enc(id)}/replay`);
        const n = arr(r.jobs).length;
        flash(`Replayed: ${plural(n, 'new job')}${n ? '' : ' (no current rule matches)'}`);
      });
    } else if (b.id === 'events-more') {
      loadMore(b);
    } else if (b.id === 'retry-all') {
      retryAll(b);
    }
  });

  function start() {
    const skip = document.querySelector('.skip');
    if (skip) {
      skip.addEventListener('click', (e) => {
        e.preventDefault(); // a real #main would clobber the hash route
        main.focus();
        main.scrollIntoView();
      });
    }
    const signOut = document.getElementById('sign-out-form');
    if (signOut) {
      signOut.addEventListener('submit', (e) => {
        if (csrf) return;
        e.preventDefault();
        loadSession().then(() => signOut.submit(), report);
      });
    }
    window.addEventListener('unhandledrejection', (e) => { e.preventDefault(); report(e.reason); });
    window.addEventListener('hashchange', onHash);
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden && inFlight === 0) refresh();
    });
    setInterval(() => {
      updateAges();
      // Not in the background, and never on top of a request still running.
      if (!document.hidden && inFlight === 0) refresh();
    }, POLL_MS);

    loadSession().then(() => {
      if (!/^#\//.test(location.hash)) history.replaceState(null, '', '#/events');
      onHash();
    }, (e) => {
      report(e);
      if (e !== HALT) onHash(); // the views say what is wrong in more detail
    });
  }

  start();
})();
