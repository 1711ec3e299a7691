// Jest setup provided by Grafana scaffolding
import './.config/jest-setup';

// jsdom lacks the observers @grafana/ui's menus use; they only need to exist (nothing scrolls here).
class NoopObserver {
  observe() {}
  unobserve() {}
  disconnect() {}
  takeRecords() {
    return [];
  }
}
Object.assign(global, {
  IntersectionObserver: global.IntersectionObserver ?? NoopObserver,
  ResizeObserver: global.ResizeObserver ?? NoopObserver,
});

// i18next advertises itself on every init; keep test output about the tests.
const info = console.info;
console.info = (...args) => {
  if (typeof args[0] === 'string' && args[0].includes('i18next is made possible')) {
    return;
  }
  info(...args);
};
