// Projects: the list (each leading to its robots) and one project's robot accounts.
import * as api from './api.js';
import { h, clear, formatTime } from './dom.js';
import { robotList } from './robots.js';

export function projectsScreen(main) {
  const tbody = h('tbody', {}, h('tr', { class: 'loading' }, h('td', { colspan: '4' }, 'Loading projects…')));
  clear(main,
    h('h1', {}, 'Projects'),
    h('p', { class: 'hint' }, 'A project\'s page lists its project robot accounts.'),
    h('div', { class: 'table-wrap' }, h('table', { class: 'grid' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Access'),
        h('th', { scope: 'col' }, 'Robot accounts'), h('th', { scope: 'col' }, 'Created'))),
      tbody)));
  let live = true;
  api.listAll('/projects').then((projects) => {
    if (!live) return;
    if (!projects.length) {
      clear(tbody, h('tr', { class: 'empty' }, h('td', { colspan: '4' }, 'No projects yet.')));
      return;
    }
    clear(tbody, projects.map((p) => h('tr', {},
      h('td', {}, h('a', { href: `#/projects/${p.project_id}/robots` }, p.name)),
      h('td', {}, p.metadata && p.metadata.public === 'true' ? 'Public' : 'Private'),
      h('td', {}, String(p.robot_count ?? '')),
      h('td', {}, formatTime(p.creation_time)))));
  }, (e) => {
    if (live && e.status !== 401) {
      clear(tbody, h('tr', { class: 'error' }, h('td', { colspan: '4' }, `Could not load projects: ${e.message}`)));
    }
  });
  return { destroy() { live = false; } };
}

export function projectRobotsScreen(main, id) {
  let inner = null;
  let live = true;
  clear(main, h('p', { class: 'loading' }, 'Loading the project…'));
  api.get(`/projects/${id}`).then((project) => {
    if (!live) return;
    inner = robotList(main, {
      project,
      title: `Robot accounts of project ${project.name}`,
      intro: h('p', { class: 'breadcrumb' }, h('a', { href: '#/projects' }, 'Projects'), ` / ${project.name}`),
    });
  }, (e) => {
    if (live && e.status !== 401) {
      clear(main, h('h1', {}, 'Project not found'), h('div', { class: 'alert', role: 'alert' }, e.message),
        h('p', {}, h('a', { href: '#/projects' }, 'Back to projects')));
    }
  });
  return {
    destroy() {
      live = false;
      if (inner) inner.destroy();
    },
  };
}
