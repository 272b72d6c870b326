// The current route as reactive state.
import { hrefOf, parseHash, type Route } from '../lib/routes.js';

export type { Route };

export class Router {
  route = $state<Route>(parseHash(location.hash));

  constructor() {
    window.addEventListener('hashchange', () => {
      this.route = parseHash(location.hash);
    });
  }

  go(r: Route): void {
    const href = hrefOf(r);
    if (location.hash === href) this.route = parseHash(href);
    else location.hash = href;
  }
}
