// Where a robot may log in from and which identity tokens it trusts: the "Allowed networks"
// field and the "Federation" section of the Edit robot dialog, each saved through its own
// API route (GET/PUT /robots/{id}/networks and /robots/{id}/federation). The server checks
// everything (its 400 names the bad entry); the page only refuses what cannot be sent.
import * as api from './api.js';
import { h, clear, field, setError } from './dom.js';

const sameJSON = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// "name=value" lines → {name: value}; a line without '=' is an error message.
function parseClaims(text) {
  const claims = {};
  for (const line of text.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const eq = line.indexOf('=');
    if (eq <= 0) return { error: `"${line}" is not NAME=VALUE.` };
    claims[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return { claims };
}

export function robotAccess(robot, onChange) {
  // ---- allowed networks ----
  const netInput = h('textarea', { rows: '2', spellcheck: 'false', disabled: true,
    placeholder: '10.0.0.0/8\n2001:db8::/32' });
  const nets = field('Allowed networks', netInput,
    'IPv4 or IPv6 networks (CIDR) or addresses, one per line. Empty: from anywhere. A login from elsewhere is refused.');
  let netsLoaded = [];

  // ---- federation ----
  let rules = [];
  let rulesLoaded = [];
  const list = h('ul', { class: 'rules' });
  const issuer = field('Issuer', h('input', { type: 'url', placeholder: 'https://token.actions.githubusercontent.com' }));
  const audience = field('Audience', h('input', { type: 'text' }), 'Empty: the service\'s name.');
  const subject = field('Subject', h('input', { type: 'text', placeholder: 'repo:acme/app:ref:refs/heads/main' }),
    'Exact, or a pattern where * matches anything.');
  const claims = field('Claims', h('textarea', { rows: '2', spellcheck: 'false', placeholder: 'repository=acme/app' }),
    'Optional: NAME=VALUE per line (the value may hold *).');
  const addRule = h('button', { type: 'button', class: 'btn small' }, 'Add rule');
  const section = h('section', { class: 'perms federation', 'aria-label': 'Federation' },
    h('h3', {}, 'Federation'),
    h('p', { class: 'hint' }, 'Identity tokens (OIDC) of these issuers log in as this robot when subject and claims match.'),
    list,
    h('fieldset', { class: 'new-rule' }, h('legend', {}, 'New rule'), issuer.row, audience.row, subject.row, claims.row, addRule));

  function renderRules() {
    clear(list);
    if (!rules.length) list.append(h('li', { class: 'hint' }, 'No federation rules.'));
    rules.forEach((r, i) => {
      const c = Object.entries(r.claims || {}).map(([k, v]) => `${k}=${v}`).join(', ');
      const remove = h('button', { type: 'button', class: 'btn small', 'aria-label': `Remove rule ${i + 1}` }, 'Remove');
      remove.addEventListener('click', () => {
        rules.splice(i, 1);
        renderRules();
        onChange();
      });
      list.append(h('li', { class: 'rule' },
        h('span', {}, `${i + 1}. ${r.issuer} · subject ${r.subject}` +
          (r.audience ? ` · audience ${r.audience}` : '') + (c ? ` · ${c}` : '')),
        remove));
    });
  }

  addRule.addEventListener('click', () => {
    const iss = issuer.input.value.trim();
    const sub = subject.input.value.trim();
    const parsed = parseClaims(claims.input.value);
    setError(issuer, iss ? '' : 'Enter the issuer\'s https:// URL.');
    setError(subject, sub ? '' : 'Enter a subject or a pattern.');
    setError(claims, parsed.error || '');
    if (!iss || !sub || parsed.error) return;
    const rule = { issuer: iss, subject: sub, claims: parsed.claims };
    const aud = audience.input.value.trim();
    if (aud) rule.audience = aud;
    rules.push(rule);
    for (const f of [issuer, audience, subject, claims]) f.input.value = '';
    renderRules();
    onChange();
  });

  netInput.addEventListener('input', () => {
    setError(nets, '');
    onChange();
  });

  const networks = () => netInput.value.split(/[\s,]+/).filter(Boolean);

  return {
    el: [nets.row, section],
    // Reads both lists; until then the field is disabled and Save sends neither.
    async load() {
      const [n, f] = await Promise.all([api.get(`/robots/${robot.id}/networks`),
        api.get(`/robots/${robot.id}/federation`)]);
      netsLoaded = n;
      netInput.value = n.join('\n');
      netInput.disabled = false;
      rulesLoaded = f;
      rules = f.map((r) => ({ ...r, claims: { ...r.claims } }));
      renderRules();
    },
    loaded: () => !netInput.disabled,
    // Sends what changed, networks first; throws the API's error (its message names the entry).
    async save() {
      if (netInput.disabled) return;
      if (!sameJSON(networks(), netsLoaded)) {
        try {
          netsLoaded = await api.put(`/robots/${robot.id}/networks`, networks());
        } catch (e) {
          setError(nets, e.message);
          throw e;
        }
        setError(nets, '');
      }
      if (!sameJSON(rules, rulesLoaded)) rulesLoaded = await api.put(`/robots/${robot.id}/federation`, rules);
    },
  };
}
