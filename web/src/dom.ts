// A small element builder, so the pages read as markup without a framework.

type Child = Node | string | number | null | undefined | false;
type Props = Record<string, unknown>;

/**
 * Creates an element. `class` sets className, `on<event>` adds a listener, `dataset` fills data-*,
 * `style` takes a CSS string; booleans toggle attributes; anything else becomes an attribute.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') element.className = String(value);
    else if (key === 'dataset') Object.assign(element.dataset, value);
    // Through the CSSOM, which the server's Content-Security-Policy allows (a style attribute it does not).
    else if (key === 'style') element.style.cssText = String(value);
    else if (key.startsWith('on') && typeof value === 'function')
      element.addEventListener(key.slice(2).toLowerCase(), value as EventListener);
    else if (value === true) element.setAttribute(key, '');
    else element.setAttribute(key, String(value));
  }
  append(element, ...children);
  return element;
}

/** Appends children, skipping empty ones. */
export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

/** Replaces every child of `parent`. */
export function replace(parent: Node, ...children: Child[]): void {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, ...children);
}

/** An SVG element (charts). */
export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number> = {},
  ...children: (SVGElement | string)[]
): SVGElementTagNameMap[K] {
  const element = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  for (const child of children) element.append(child);
  return element;
}

/** A message line whose space is always reserved (see .message in style.css), so nothing jumps. */
export function messageLine(id: string): HTMLParagraphElement {
  return h('p', { id, class: 'message', role: 'status', 'aria-live': 'polite' });
}

/**
 * Text in which `backticked` parts (commands, in the service's messages too) become <code>, so no
 * literal backtick reaches the reader. An unpaired backtick leaves the text as it is.
 */
export function rich(text: string): Child[] {
  const parts = text.split('`');
  if (parts.length % 2 === 0) return [text];
  return parts.map((part, i) => (i % 2 === 1 ? h('code', {}, part) : part));
}

/**
 * Shows a message: kind 'error' is red and announced assertively. `cause` names what the message is
 * about (an error code such as ERR_UNREACHABLE), so it can be taken away when that is over.
 */
export function say(line: HTMLElement, text: string, kind: 'info' | 'ok' | 'error' = 'info', cause?: string): void {
  replace(line, ...rich(text));
  line.dataset.kind = kind;
  if (cause && text) line.dataset.cause = cause;
  else delete line.dataset.cause;
  line.setAttribute('aria-live', kind === 'error' ? 'assertive' : 'polite');
}

/** Clears a message line (a message must not outlive what it was about). */
export function unsay(line: HTMLElement): void {
  say(line, '');
}

/** Clears every message line that speaks of `cause` (the server is back: "cannot reach" is over). */
export function unsayAll(cause: string): void {
  for (const line of document.querySelectorAll<HTMLElement>(`.message[data-cause="${cause}"]`)) unsay(line);
}

/** Percent with no decimals for bars and badges: 0.8712 -> "87%". */
export function percent(p: number): string {
  return `${Math.round(100 * p)}%`;
}
