// Settings: robot name prefix, robot token expiration (days), token lifetime (minutes).
// Save sends only what changed; Cancel (and leaving the screen) asks before discarding.
import * as api from './api.js';
import { h, clear, field, setError, confirmDialog, toast } from './dom.js';

const positive = (max) => (text) => {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1 || Number(text) > max) return null;
  return Number(text);
};

const SETTINGS = [
  {
    key: 'robot_name_prefix',
    label: 'Robot name prefix',
    hint: 'Robots log in as <prefix><name>. Changing it renames every robot at once (legacy robots keep robot$).',
    parse: (t) => (t && !/\s/.test(t) ? t : null),
    message: 'The prefix must not be empty or hold spaces.',
  },
  {
    key: 'robot_token_duration',
    label: 'Robot token expiration (days)',
    hint: 'How long a new robot account lives unless its dialog says otherwise.',
    parse: positive(36500),
    message: 'Enter a whole number of days from 1 to 36500.',
  },
  {
    key: 'token_expiration',
    label: 'Token lifetime (minutes)',
    hint: 'How long a registry token lives (never past its robot\'s expiry).',
    parse: positive(1440),
    message: 'Enter a whole number of minutes from 1 to 1440.',
  },
];

export function settingsScreen(main) {
  const fields = SETTINGS.map((s) => ({ s, f: field(s.label, h('input', { type: 'text', name: s.key, disabled: true }), s.hint) }));
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
      const bad = s.parse(f.input.value.trim()) === null;
      setError(f, bad ? s.message : '');
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
