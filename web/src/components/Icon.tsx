// A few line icons drawn here (24x24, stroke = currentColor).
const PATHS: Record<string, string> = {
  menu: "M4 6h16M4 12h16M4 18h16",
  pencil: "M4 20h4L19 9l-4-4L4 16v4zM13.5 6.5l4 4",
  trash: "M5 7h14M10 7V4h4v3M7 7l1 13h8l1-13M10 11v6M14 11v6",
  copy: "M9 9h11v11H9zM5 15H4V4h11v1",
  refresh: "M20 11a8 8 0 1 0-2.3 5.7M20 4v7h-7",
  stop: "M7 7h10v10H7z",
  send: "M4 12l16-8-6 16-2-7-8-1z",
  clip: "M16 8l-7.5 7.5a2.5 2.5 0 0 0 3.5 3.5L19.5 11a4.5 4.5 0 0 0-6.4-6.4L5.6 12.1a6.5 6.5 0 0 0 9.2 9.2",
  file: "M6 3h8l4 4v14H6zM14 3v4h4",
  x: "M6 6l12 12M18 6L6 18",
  check: "M5 12l5 5 9-10",
  brain: "M12 5a3 3 0 0 0-6 1 3 3 0 0 0-2 5 3 3 0 0 0 2 5 3 3 0 0 0 6 1V5zm0 0a3 3 0 0 1 6 1 3 3 0 0 1 2 5 3 3 0 0 1-2 5 3 3 0 0 1-6 1",
  link: "M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1",
  download: "M12 4v11M7 10l5 5 5-5M5 20h14",
  skip: "M6 12h12",
  steps: "M9 6h11M9 12h11M9 18h11M4 6h1M4 12h1M4 18h1",
  bookmark: "M6 3h12v18l-6-4-6 4z",
  search: "M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14zM16 16l5 5",
  plus: "M12 5v14M5 12h14",
};

export function Icon({ name, size = 18 }: { name: keyof typeof PATHS | string; size?: number }) {
  return (
    <svg class="icon" width={size} height={size} viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      <path d={PATHS[name] ?? ""} fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" />
    </svg>
  );
}
