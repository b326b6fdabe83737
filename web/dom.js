// Small DOM helpers: element building (never innerHTML with data), dialogs, toasts,
// formatting. Everything the screens share.

// h('button', {class: 'x', onclick: fn, disabled: true, 'aria-label': 'y'}, child, …)
// Children: nodes, strings (as text), arrays, null/false (skipped).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'class') {
      el.className = v;
    } else if (k === 'text') {
      el.textContent = v;
    } else if (k === 'value' || k === 'checked' || k === 'indeterminate') {
      el[k] = v;
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let idCounter = 0;
export function uid(prefix) {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

// A label + control + hint + error message block; returns {row, input, error, hint}.
export function field(label, input, hint) {
  if (!input.id) input.id = uid('f');
  const error = h('p', { class: 'field-error', id: uid('err'), hidden: true });
  const hintEl = hint ? h('p', { class: 'hint', id: uid('hint') }, hint) : null;
  input.setAttribute('aria-describedby', [hintEl && hintEl.id, error.id].filter(Boolean).join(' '));
  const row = h('div', { class: 'field' },
    h('label', { for: input.id }, label), input, hintEl, error);
  return { row, input, error, hint: hintEl };
}

// Shows (or with '' hides) a field's message and marks its control invalid.
export function setError(f, message) {
  f.error.textContent = message || '';
  f.error.hidden = !message;
  if (message) f.input.setAttribute('aria-invalid', 'true');
  else f.input.removeAttribute('aria-invalid');
}

// ---- dialogs -------------------------------------------------------------------------------

// A native modal <dialog>. body: nodes; buttons: nodes placed in the footer.
// onCancel(): called for Esc; return false to keep the dialog open.
// Returns {dialog, alert, close(), showError(msg)}.
export function modal({ title, body, buttons, onCancel, wide }) {
  const titleId = uid('dlg-title');
  const alertBox = h('div', { class: 'alert', role: 'alert', hidden: true });
  // Toasts raised while a modal dialog is open live in it: the rest of the page is inert.
  const toasts = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
  const dialog = h('dialog', { class: wide ? 'wide' : null, 'aria-labelledby': titleId },
    h('h2', { id: titleId }, title),
    h('div', { class: 'dialog-body' }, alertBox, body),
    h('div', { class: 'dialog-buttons' }, buttons),
    toasts);
  let closed = false;
  const d = {
    dialog,
    alert: alertBox,
    close() {
      if (closed) return;
      closed = true;
      dialog.close();
      toastRegion().append(...toasts.children);
      dialog.remove();
    },
    showError(msg) {
      alertBox.textContent = msg || '';
      alertBox.hidden = !msg;
    },
    get open() {
      return !closed;
    },
  };
  dialog.addEventListener('cancel', (ev) => {
    ev.preventDefault();
    if (!onCancel || onCancel() !== false) d.close();
  });
  document.body.append(dialog);
  dialog.showModal();
  return d;
}

// Asks a yes/no question; resolves true for the confirming button.
export function confirmDialog({ title, message, ok = 'OK', cancel = 'Cancel', danger = false }) {
  return new Promise((resolve) => {
    let d = null;
    const done = (v) => {
      d.close();
      resolve(v);
    };
    const cancelBtn = h('button', { type: 'button', class: 'btn', onclick: () => done(false) }, cancel);
    const okBtn = h('button', { type: 'button', class: danger ? 'btn danger' : 'btn primary',
      onclick: () => done(true) }, ok);
    d = modal({
      title,
      body: Array.isArray(message) ? message : [h('p', {}, message)],
      buttons: [cancelBtn, okBtn],
      onCancel: () => {
        resolve(false);
        return true;
      },
    });
    d.dialog.classList.add('confirm');
    cancelBtn.focus();
  });
}

// ---- toasts --------------------------------------------------------------------------------

function toastRegion() {
  const open = [...document.querySelectorAll('dialog[open] > .toasts')];
  return open.length ? open[open.length - 1] : document.getElementById('toasts');
}

export function toast(message, kind = 'info') {
  const t = h('div', { class: `toast ${kind}` }, message);
  toastRegion().append(t);
  setTimeout(() => t.remove(), 6000);
}

// ---- formatting ----------------------------------------------------------------------------

export function formatTime(value) {
  if (!value) return '';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return d.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
}

// "Never expires" | "Expired" | "Xd Yh Zm"; cls: '' | 'soon' (under 7 days) | 'expired'.
export function expiresIn(expiresAt, nowMs = Date.now()) {
  if (expiresAt === -1 || expiresAt === null || expiresAt === undefined) {
    return { text: 'Never expires', cls: '' };
  }
  const left = Math.floor(expiresAt - nowMs / 1000);
  if (left <= 0) return { text: 'Expired', cls: 'expired' };
  const d = Math.floor(left / 86400);
  const hr = Math.floor((left % 86400) / 3600);
  const m = Math.floor((left % 3600) / 60);
  return { text: `${d}d ${hr}h ${m}m`, cls: left < 7 * 86400 ? 'soon' : '' };
}

export function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many || `${one}s`}`;
}
