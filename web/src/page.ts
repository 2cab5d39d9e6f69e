// What every view of the page provides to the router in main.ts.

export interface Page {
  /** The view's root, built once and kept while other views show (drawings survive a tab switch). */
  readonly element: HTMLElement;
  /** Called each time the view is shown, with the parameters after '?' in the #fragment. */
  show(params: URLSearchParams): void;
  /** Called when another view is shown: stop live updates. */
  hide(): void;
}
