// Reactive store fields, on @preact/signals: a store names the fields views read, and each is
// kept in a signal behind a plain property. A component that reads one while rendering
// re-renders when it is assigned; there is no subscribe/emit code in the stores.
import { signal } from "@preact/signals";

/** Keeps each named field of `store` in a signal (call it at the end of the constructor, after
 * the fields have their first values). Assign a new value (a new array or object) to notify. */
export function reactive<T extends object, K extends keyof T>(store: T, ...fields: K[]): void {
  for (const field of fields) {
    const value = signal(store[field]);
    Object.defineProperty(store, field, {
      get: () => value.value,
      set: (next: T[K]) => {
        value.value = next;
      },
      enumerable: true,
      configurable: false,
    });
  }
}
