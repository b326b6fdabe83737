// The secret, shown once (after create and after a random refresh), and the Refresh secret dialog.
import * as api from './api.js';
import { h, modal, confirmDialog, field, setError, toast, uid } from './dom.js';

// The character classes the server may require of a manual secret (api.limits.secret.classes
// says which it does): how to test for each and how to name it.
const CLASSES = {
  upper: { re: /[A-Z]/, one: 'one upper-case letter', a: 'an upper-case letter' },
  lower: { re: /[a-z]/, one: 'one lower-case letter', a: 'a lower-case letter' },
  digit: { re: /[0-9]/, one: 'one digit', a: 'a digit' },
};

// "x", "x and y", "x, y and z"
const listOf = (words) => (words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`);
const secretClasses = () => api.limits.secret.classes.filter((c) => CLASSES[c]).map((c) => CLASSES[c]);

// record: the API's answer with id, name, secret, creation_time, expires_at.
export function secretDialog({ title, record }) {
  let saved = false;
  const nameInput = h('input', { type: 'text', readonly: true, value: record.name });
  const secretInput = h('input', { type: 'text', readonly: true, value: record.secret, class: 'secret', spellcheck: 'false' });
  const nameF = field('Name', nameInput);
  const secretF = field('Secret', secretInput);
  const copy = h('button', { type: 'button', class: 'btn' }, 'Copy');
  const exportBtn = h('button', { type: 'button', class: 'btn' }, 'Export to file');
  const close = h('button', { type: 'button', class: 'btn primary' }, 'Close');

  const askClose = async () => {
    if (saved) return d.close();
    const ok = await confirmDialog({
      title: 'Close without saving the secret?',
      message: 'You have not copied or exported the secret. It cannot be shown again: closing means refreshing it to get a new one.',
      ok: 'Close anyway',
      cancel: 'Go back',
      danger: true,
    });
    if (ok) d.close();
    else secretInput.focus();
  };
  const d = modal({
    title,
    body: [
      h('p', { class: 'warning' }, 'This is the only time the secret is shown. Copy it or export it to a file now.'),
      nameF.row,
      secretF.row,
      h('div', { class: 'toolbar' }, copy, exportBtn),
    ],
    buttons: [close],
    onCancel: () => {
      askClose();
      return false;
    },
  });
  d.dialog.classList.add('secret-dialog');

  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(record.secret);
      saved = true;
      toast('Secret copied to the clipboard.');
    } catch {
      secretInput.select();
      d.showError('The browser refused the clipboard: the secret is selected, copy it with Ctrl+C.');
    }
  });
  exportBtn.addEventListener('click', () => {
    const data = {
      id: record.id,
      name: record.name,
      secret: record.secret,
      creation_time: record.creation_time,
      expires_at: record.expires_at,
    };
    const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' }));
    const a = h('a', { href: url, download: `${record.name}.json`, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    saved = true;
    toast(`Exported to ${record.name}.json.`);
  });
  close.addEventListener('click', askClose);
  copy.focus();
  return d;
}

// Why a manual secret is refused ('' when it is good).
// The server's policy (length in UTF-8 bytes, as it counts), and one rule of the page's own:
// no spaces (the API accepts them, as Harbor's does; a secret typed twice into password
// boxes is better without).
export function secretError(s) {
  const { min_bytes: min, max_bytes: max } = api.limits.secret;
  const n = api.utf8Length(s);
  if (n < min || n > max) return `Use ${min} to ${max} characters.`;
  if (/\s/.test(s)) return 'No spaces.';
  const classes = secretClasses();
  if (!classes.every((c) => c.re.test(s))) return `Use at least ${listOf(classes.map((c) => c.one))}.`;
  return '';
}

// robot: a list row {id, name, …}; onDone() after a refresh.
export function refreshDialog(robot, { onDone }) {
  const manual = h('input', { type: 'checkbox', id: uid('manual') });
  const { min_bytes: min, max_bytes: max } = api.limits.secret;
  const secret = field('New secret', h('input', { type: 'password', autocomplete: 'new-password' }),
    `${min} to ${max} characters with ${listOf(secretClasses().map((c) => c.a))}; no spaces.`);
  const confirm = field('Confirm secret', h('input', { type: 'password', autocomplete: 'new-password' }));
  const manualBox = h('div', { class: 'manual', hidden: true }, secret.row, confirm.row);
  const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Refresh');
  const form = h('form', { novalidate: true, id: uid('refresh') },
    h('p', {}, `A new secret replaces the current one of ${robot.name}: clients using the old one stop getting tokens.`),
    h('div', { class: 'check' }, manual, h('label', { for: manual.id }, 'Set the secret manually')),
    h('p', { class: 'hint' }, 'Otherwise a random secret is generated and shown once.'),
    manualBox);
  submit.setAttribute('form', form.id);
  const d = modal({ title: `Refresh secret of ${robot.name}`, body: form, buttons: [cancel, submit] });
  cancel.addEventListener('click', () => d.close());

  let touched = false;
  function validate() {
    if (!manual.checked) {
      submit.disabled = false;
      return true;
    }
    const e1 = secretError(secret.input.value);
    const e2 = !e1 && confirm.input.value !== secret.input.value ? 'The two secrets differ.' : '';
    if (touched) {
      setError(secret, e1);
      setError(confirm, e2);
    }
    submit.disabled = !!(e1 || e2);
    return !(e1 || e2);
  }
  manual.addEventListener('change', () => {
    manualBox.hidden = !manual.checked;
    if (manual.checked) secret.input.focus();
    validate();
  });
  for (const f of [secret, confirm]) {
    f.input.addEventListener('input', () => {
      touched = true;
      validate();
    });
  }
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    touched = true;
    if (!validate()) return;
    submit.disabled = true;
    d.showError('');
    try {
      if (manual.checked) {
        await api.patch(`/robots/${robot.id}`, { secret: secret.input.value });
        d.close();
        toast(`The secret of ${robot.name} was changed.`);
      } else {
        const r = await api.patch(`/robots/${robot.id}`, {});
        d.close();
        secretDialog({ title: 'Secret refreshed', record: { ...robot, secret: r.secret } });
      }
      onDone();
    } catch (e) {
      if (e.status === 401) return;
      d.showError(e.message);
      submit.disabled = false;
    }
  });
  cancel.focus();
  return d;
}
