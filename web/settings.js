// Settings: robot name prefix, robot token expiration (days), token lifetime (minutes).
// Save sends only what changed; Cancel (and leaving the screen) asks before discarding.
import * as api from './api.js';
import { h, clear, field, setError, confirmDialog, toast } from './dom.js';

// A whole number from min to max, or null.
const whole = (text, { min, max }) => {
  if (!/^\d+$/.test(text.trim()) || Number(text) < min || Number(text) > max) return null;
  return Number(text);
};

// The bounds are the server's (api.limits, from GET /c/limits), read when the screen opens.
function settingsOf(limits) {
  const prefixMax = limits.name_prefix.max_length;
  const days = limits.duration;
  const minutes = limits.token_expiration;
  return [
    {
      key: 'robot_name_prefix',
      label: 'Robot name prefix',
      hint: 'Robots log in as <prefix><name>. Changing it renames every robot at once (legacy robots keep robot$).',
      parse: (t) => (t && !/\s/.test(t) && t.length <= prefixMax ? t : null),
      message: (t) => (t.length > prefixMax ? `At most ${prefixMax} characters.` : 'The prefix must not be empty or hold spaces.'),
    },
    {
      key: 'robot_token_duration',
      label: 'Robot token expiration (days)',
      hint: 'How long a new robot account lives unless its dialog says otherwise.',
      parse: (t) => whole(t, days),
      message: () => `Enter a whole number of days from ${days.min} to ${days.max}.`,
    },
    {
      key: 'token_expiration',
      label: 'Token lifetime (minutes)',
      hint: 'How long a registry token lives (never past its robot\'s expiry).',
      parse: (t) => whole(t, minutes),
      message: () => `Enter a whole number of minutes from ${minutes.min} to ${minutes.max}.`,
    },
  ];
}

export function settingsScreen(main) {
  const fields = settingsOf(api.limits).map((s) => ({ s, f: field(s.label, h('input', { type: 'text', name: s.key, disabled: true }), s.hint) }));
  const alert = h('div', { class: 'alert', role: 'alert', hidden: true });
  const save = h('button', { type: 'submit', class: 'btn primary', disabled: true }, 'Save');
  const cancel = h('button', { type: 'button', class: 'btn', disabled: true }, 'Cancel');
  const form = h('form', { class: 'settings', novalidate: true },
    alert, fields.map(({ f }) => f.row), h('div', { class: 'buttons' }, cancel, save));
  clear(main, h('h1', {}, 'Settings'), h('p', { class: 'hint' }, 'Robot account settings, shared by every dockhand instance.'), form);
  let config = null; // GET /configurations
  let saved = null; // key → value as the server has it

  const changes = () => {
    const out = {};
    for (const { s, f } of fields) {
      const v = s.parse(f.input.value.trim());
      if (v !== null && v !== saved[s.key]) out[s.key] = v;
    }
    return out;
  };
  const dirty = () => saved && fields.some(({ s, f }) => f.input.value.trim() !== String(saved[s.key]));

  function validate() {
    let ok = true;
    for (const { s, f } of fields) {
      const text = f.input.value.trim();
      const bad = s.parse(text) === null;
      setError(f, bad ? s.message(text) : '');
      ok = ok && !bad;
    }
    save.disabled = !ok || !Object.keys(changes()).length;
    cancel.disabled = !dirty();
    return ok;
  }

  function fill() {
    saved = {};
    for (const { s, f } of fields) {
      saved[s.key] = config[s.key].value;
      f.input.value = String(config[s.key].value);
      f.input.disabled = !config[s.key].editable;
    }
    validate();
  }

  async function load() {
    try {
      config = await api.get('/configurations');
      fill();
    } catch (e) {
      if (e.status === 401) return;
      alert.textContent = `Could not load the settings: ${e.message}`;
      alert.hidden = false;
    }
  }

  for (const { f } of fields) f.input.addEventListener('input', validate);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!validate()) return;
    const body = changes();
    if (!Object.keys(body).length) return;
    save.disabled = true;
    alert.hidden = true;
    try {
      await api.put('/configurations', body);
      toast('Settings saved.');
      await load();
    } catch (e) {
      if (e.status === 401) return;
      alert.textContent = e.message;
      alert.hidden = false;
      validate();
    }
  });
  const discard = async () => {
    if (!dirty()) return true;
    return confirmDialog({ title: 'Discard changes?', message: 'Your changes to the settings are not saved. Discard them?', ok: 'Discard', cancel: 'Keep editing' });
  };
  cancel.addEventListener('click', async () => {
    if (await discard()) {
      fill();
      toast('Changes discarded.');
    }
  });
  load();
  const screen = {
    get confirmLeave() {
      return dirty() ? discard : null;
    },
  };
  return screen;
}
