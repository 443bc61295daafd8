// Markdown for model output: marked for the syntax, raw HTML shown as text, and DOMPurify on
// what marked produces. Streaming updates re-render only the blocks that changed, so earlier
// blocks are never rebuilt (no flicker, nothing re-evaluated) while tokens arrive.
import DOMPurify, { type Config } from "dompurify";
import { Marked, type Token, type Tokens } from "marked";

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

const SAFE_URL = /^(https?:|mailto:|#)/i;

// "[1]" in an answer cites source 1 (the numbering the server gives the model): a link to
// #source-1 that the message view turns into opening that source. Not "[1](url)" nor "[1][x]".
const citeRef = {
  name: "citeRef",
  level: "inline" as const,
  start(src: string): number | undefined {
    const i = src.search(/\[\d{1,3}\]/);
    return i < 0 ? undefined : i;
  },
  tokenizer(src: string): Tokens.Generic | undefined {
    const m = /^\[(\d{1,3})\](?![([:])/.exec(src);
    return m ? { type: "citeRef", raw: m[0], n: Number(m[1]) } : undefined;
  },
  renderer(token: Tokens.Generic): string {
    return `<a href="#source-${token.n}" class="cite-ref" title="Source ${token.n}">[${token.n}]</a>`;
  },
};

export const marked = new Marked({
  gfm: true,
  breaks: false,
  extensions: [citeRef],
  renderer: {
    // Raw HTML in model output is displayed, never interpreted.
    html(token: Tokens.HTML | Tokens.Tag): string {
      return escapeHtml(token.text);
    },
    // Images would load from anywhere: show them as links instead.
    image(token: Tokens.Image): string {
      const label = escapeHtml(token.text || token.href);
      return SAFE_URL.test(token.href)
        ? `<a href="${escapeHtml(token.href)}">${label}</a>`
        : label;
    },
  },
});

const purifier = DOMPurify(window);
purifier.addHook("afterSanitizeAttributes", (node) => {
  if (node.nodeName === "A") {
    const href = node.getAttribute("href") || "";
    if (!SAFE_URL.test(href)) node.removeAttribute("href");
    else if (!href.startsWith("#")) {
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer nofollow");
    }
  }
});

const PURIFY: Config & { RETURN_DOM_FRAGMENT: true } = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: ["style", "img", "svg", "math", "form", "input", "button", "textarea", "select", "iframe", "object", "embed", "video", "audio", "source", "link", "meta", "base"],
  FORBID_ATTR: ["style", "srcset", "formaction", "xlink:href"],
  ALLOW_DATA_ATTR: false,
  RETURN_DOM_FRAGMENT: true,
};

/** Sanitised DOM for a Markdown string (used for whole documents and single blocks). */
export function renderMarkdown(src: string): DocumentFragment {
  const html = marked.parse(src, { async: false }) as string;
  return purifier.sanitize(html, PURIFY);
}

function renderTokens(tokens: Token[], links: Tokens.Generic["links"]): DocumentFragment {
  const list = Object.assign(tokens.slice(), { links }) as unknown as Parameters<typeof marked.parser>[0];
  const html = marked.parser(list) as string;
  return purifier.sanitize(html, PURIFY);
}

/** Keeps `root` showing `src` as Markdown, touching only the blocks that changed. */
export class MarkdownView {
  private blocks: { raw: string; el: HTMLElement }[] = [];
  private last = "";

  constructor(private readonly root: HTMLElement) {}

  update(src: string): void {
    if (src === this.last) return;
    this.last = src;
    const tokens = marked.lexer(src);
    const links = tokens.links;
    const top = tokens.filter((t) => t.type !== "space");
    let i = 0;
    for (; i < top.length; i++) {
      const t = top[i];
      // Trailing blank lines join a block's source once the next block starts: same output.
      const raw = t.raw.trimEnd();
      const existing = this.blocks[i];
      if (existing && existing.raw === raw) continue;
      const el = document.createElement("div");
      el.className = "md-block";
      el.appendChild(renderTokens([t], links));
      if (existing) {
        this.root.replaceChild(el, existing.el);
        this.blocks[i] = { raw, el };
      } else {
        this.root.appendChild(el);
        this.blocks.push({ raw, el });
      }
    }
    for (const extra of this.blocks.splice(i)) extra.el.remove();
  }
}
