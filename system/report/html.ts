// Building HTML from a report whose strings come from guests, so treated as hostile: the `html`
// tag escapes every value it is given unless the value is itself built by `html` (or is a list of
// such), so a section cannot forget to escape. Escaping also makes control characters, line breaks
// and the bidirectional overrides visible, as the terminal does (cli/render.ts), so a guest's
// string can neither fake a line of a preformatted dump nor reorder the text around it.

/** Markup that is already safe: built by `html` from literals and escaped values. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

// Tab stays (it is only whitespace); every other C0 and C1 control, DEL, the line and paragraph
// separators and the bidi controls go.
const UNPRINTABLE = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069]/gu;

/** Text made safe for an element's content or a quoted attribute value. */
export function esc(text: string): string {
  return text
    .replace(UNPRINTABLE, (c) => {
      const code = c.codePointAt(0)!;
      return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
    })
    .replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

type Value = Html | string | number | boolean | undefined | null | readonly Value[];

function piece(v: Value): string {
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(piece).join('');
  // `cond && html…` leaves nothing when cond is false.
  if (v === undefined || v === null || v === false) return '';
  return esc(String(v));
}

/** A template whose every interpolated value is escaped, except values that are Html already. */
export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += piece(values[i]!) + strings[i + 1]!;
  return new Html(out);
}

/**
 * JSON for a `<script type="application/json">` block, in printable ASCII: the characters that
 * could end the block or open a comment in it (`<`, `>`, `&`) and everything outside ASCII (the
 * line separators JavaScript once took for line ends, the bidi controls) are \u escapes, which
 * JSON.parse reads back unchanged.
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/[^\x20-\x7e]|[<>&]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
