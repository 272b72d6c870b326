import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';
import { createTransport } from './lib/transport/index.js';
import { AppState } from './state/app.svelte.js';

// Browser mode: the server set the auth cookie when this page was loaded with ?token=…; drop
// the token from the address bar so it is not bookmarked, shared or kept in history.
if (location.search.includes('token=')) {
  const url = new URL(location.href);
  url.searchParams.delete('token');
  history.replaceState(null, '', url.pathname + url.search + url.hash);
}

const transport = createTransport(import.meta.env.VITE_TARGET as string | undefined, window);
const app = new AppState(transport);
const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');
mount(App, { target, props: { app } });
