// A researcher's Markdown (consent, instructions) through the app's sanitised renderer.
import { useEffect, useRef } from "preact/hooks";
import { renderMarkdown } from "../markdown";

export function Markdown({ text, class: cls, testid }: { text: string; class?: string; testid?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (ref.current) ref.current.replaceChildren(renderMarkdown(text || ""));
  }, [text]);
  return <div ref={ref} class={`markdown ${cls ?? ""}`} data-testid={testid} />;
}
