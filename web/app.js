// Placeholder: the web page's own script replaces this file.
const main = document.getElementById('app');
fetch('/c/session', { credentials: 'same-origin' }).then((r) => {
  main.querySelector('p').textContent = r.ok ? 'Signed in.' : 'Not signed in.';
});
