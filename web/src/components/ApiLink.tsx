import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { downloadWithAuth } from "../auth";

/**
 * A download link to an API export. A plain link sends no credentials: with API keys the
 * click fetches the file with the Authorization header and saves it instead.
 */
export function ApiLink({
  href,
  filename,
  children,
  ...rest
}: {
  href: string;
  filename: string;
  children: ComponentChildren;
  class?: string;
  "data-track"?: string;
  "data-testid"?: string;
}) {
  const [error, setError] = useState<string | null>(null);
  return (
    <>
      <a
        {...rest}
        href={href}
        download={filename}
        onClick={(e) => {
          e.preventDefault();
          setError(null);
          downloadWithAuth(href, filename).catch((err: Error) => setError(err.message));
        }}
      >
        {children}
      </a>
      {error && (
        <span class="inline-error small" role="alert">
          {error}
        </span>
      )}
    </>
  );
}
