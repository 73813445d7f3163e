// The console shell: session, navigation (hash routes), and the page in <main>.

import { request, setCsrfToken, whenSignedOut } from './api.js';
import { announce, clear, h } from './dom.js';
import { renderSignIn } from './pages/signin.js';
import { renderDetect } from './pages/detect.js';
import { renderCompare } from './pages/compare.js';
import { renderCollections } from './pages/collections.js';
import { renderSearch } from './pages/search.js';
import { renderVideo } from './pages/video.js';
import { renderAudit } from './pages/audit.js';
import { renderKeys } from './pages/keys.js';

// Each page names the operation it needs; a key whose scope lacks it gets no link and a "not allowed" page.
const PAGES = [
  { id: 'detect', label: 'Detect', needs: 'DetectFaces', render: renderDetect },
  { id: 'compare', label: 'Compare', needs: 'CompareFaces', render: renderCompare },
  { id: 'collections', label: 'Collections', needs: 'ListCollections', render: renderCollections },
  { id: 'search', label: 'Search', needs: 'SearchFacesByImage', render: renderSearch },
  { id: 'video', label: 'Video', needs: 'StartFaceSearch', render: renderVideo },
  { id: 'audit', label: 'Audit log', needs: 'ListAuditRecords', render: renderAudit },
  { id: 'keys', label: 'Keys', admin: true, render: renderKeys },
];

let session = null;
const main = document.getElementById('main');

function allowed(page) {
  if (!session) return false;
  return page.admin ? session.Admin : session.Operations.includes(page.needs);
}

function renderNav() {
  const nav = document.getElementById('nav');
  const links = document.getElementById('nav-links');
  clear(links, PAGES.filter(allowed).map((page) => h('li', {}, h('a', { href: `#/${page.id}`, 'data-page': page.id }, page.label))));
  nav.hidden = !session;
  document.getElementById('session').hidden = !session;
  document.getElementById('who').textContent = session ? `${session.AccessKeyId} · ${session.Scope}` : '';
}

function route() {
  if (!session) {
    renderNav();
    renderSignIn(main, signedIn);
    return;
  }
  const id = (window.location.hash || '').replace(/^#\/?/, '') || 'detect';
  const page = PAGES.find((p) => p.id === id) || PAGES[0];
  for (const link of document.querySelectorAll('#nav-links a')) {
    if (link.dataset.page === page.id) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `${page.label} · Regard console`;
  if (!allowed(page)) {
    clear(main, h('h1', {}, page.label), h('p', { class: 'banner bad' },
      `Not allowed: a key with scope "${session.Scope}" may not use this page.`));
    return;
  }
  clear(main);
  page.render(main, session);
}

function signedIn(who) {
  session = who;
  setCsrfToken(who.CsrfToken);
  renderNav();
  if (!window.location.hash) window.location.hash = '#/detect';
  route();
  main.focus();
  announce(`Signed in as ${who.AccessKeyId} (scope ${who.Scope}).`);
}

function signedOut(message) {
  session = null;
  setCsrfToken(null);
  route();
  if (message) announce(message);
}

async function signOut() {
  try {
    await request('DELETE', 'session');
  } finally {
    signedOut('Signed out.');
  }
}

async function start() {
  whenSignedOut(signedOut);
  document.getElementById('sign-out').addEventListener('click', signOut);
  window.addEventListener('hashchange', () => { route(); main.focus(); });
  const who = await request('GET', 'session');
  if (who.SignedIn) {
    session = who;
    setCsrfToken(who.CsrfToken);
    renderNav();
  }
  route();
}

start();
