// Permission pickers, built from GET /permissions and named as Harbor's robot page names them.
import { h, uid } from './dom.js';

const NAMES = {
  'repository:push': 'Push artifacts',
  'repository:pull': 'Pull artifacts',
  'artifact:delete': 'Delete artifacts',
  'helm-chart:read': 'Read Helm charts',
  'helm-chart-version:create': 'Create a Helm chart version',
  'helm-chart-version:delete': 'Delete a Helm chart version',
  'tag:create': 'Create a tag',
  'tag:delete': 'Delete a tag',
  'artifact-label:create': 'Create artifact labels',
  'scan:create': 'Create a scan',
  'repository:delete': 'Delete repositories',
};
// Harbor's order: push and pull first.
const ORDER = Object.keys(NAMES);

export const key = (a) => `${a.resource}:${a.action}`;
export const PUSH = 'repository:push';
export const PULL = 'repository:pull';
export const DEFAULT_SET = [PUSH, PULL];

export function permissionName(k) {
  return NAMES[k] || k.replace(':', ': ');
}

// The project permissions of the catalogue, in display order: [{key, resource, action, name}].
export function catalogue(perms) {
  const list = (perms && perms.project) || [];
  return list
    .map((a) => ({ key: key(a), resource: a.resource, action: a.action, name: permissionName(key(a)) }))
    .sort((x, y) => {
      const ix = ORDER.indexOf(x.key);
      const iy = ORDER.indexOf(y.key);
      return (ix < 0 ? 99 : ix) - (iy < 0 ? 99 : iy);
    });
}

// "Push artifacts, Pull artifacts" for an access list from the API, in display order.
export function accessNames(access) {
  const keys = (access || []).map(key);
  const rank = (k) => (ORDER.indexOf(k) < 0 ? 99 : ORDER.indexOf(k));
  return keys.sort((a, b) => rank(a) - rank(b)).map(permissionName).join(', ') || 'No permissions';
}

export function toAccess(cat, keys) {
  return cat.filter((p) => keys.has(p.key)).map((p) => ({ resource: p.resource, action: p.action }));
}

// "Push artifacts, Pull artifacts" or "No permissions".
export function summary(cat, keys) {
  if (!keys.size) return 'No permissions';
  if (keys.size === cat.length) return `All ${cat.length} permissions`;
  return cat.filter((p) => keys.has(p.key)).map((p) => p.name).join(', ');
}

// A picker: a <details> whose summary names the chosen permissions and whose body holds a
// checkbox per permission and Select all / Unselect all. keys: a Set the picker edits in
// place; onChange() after each change. Returns {el, refresh(), setDisabled(bool)}.
export function picker(cat, keys, { label, onChange, open = false }) {
  const summaryText = h('span', { class: 'picker-summary' });
  const boxes = [];
  const selectAll = h('button', { type: 'button', class: 'btn small link' }, 'Select all');
  const unselectAll = h('button', { type: 'button', class: 'btn small link' }, 'Unselect all');
  const legendId = uid('perm');
  const list = h('div', { class: 'picker-list', role: 'group', 'aria-labelledby': legendId });
  for (const p of cat) {
    const id = uid('perm');
    const box = h('input', { type: 'checkbox', id, dataset: { perm: p.key } });
    box.addEventListener('change', () => {
      if (box.checked) keys.add(p.key);
      else keys.delete(p.key);
      refresh();
      if (onChange) onChange();
    });
    boxes.push([p, box]);
    list.append(h('div', { class: 'check' }, box, h('label', { for: id }, p.name)));
  }
  const setAll = (all) => {
    keys.clear();
    if (all) for (const p of cat) keys.add(p.key);
    refresh();
    if (onChange) onChange();
  };
  selectAll.addEventListener('click', () => setAll(true));
  unselectAll.addEventListener('click', () => setAll(false));
  const details = h('details', { class: 'picker' },
    h('summary', {}, h('span', { class: 'visually-hidden' }, `${label}: `), summaryText),
    h('div', { class: 'picker-body' },
      h('div', { class: 'picker-head' }, h('span', { id: legendId, class: 'picker-title' }, label),
        h('span', {}, selectAll, ' / ', unselectAll)),
      list));
  if (open) details.open = true;

  function refresh() {
    for (const [p, box] of boxes) box.checked = keys.has(p.key);
    summaryText.textContent = summary(cat, keys);
    selectAll.disabled = disabled || keys.size === cat.length;
    unselectAll.disabled = disabled || keys.size === 0;
  }
  let disabled = false;
  refresh();
  return {
    el: details,
    refresh,
    setDisabled(value) {
      disabled = value;
      for (const [, box] of boxes) box.disabled = disabled;
      if (disabled) details.open = false;
      details.classList.toggle('disabled', disabled);
      refresh();
    },
  };
}
