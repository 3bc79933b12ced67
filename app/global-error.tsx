"use client";
import { Providers } from "@/components/providers";
import "./globals.css";
import PageError from "./error";

// The root layout itself failed: render a whole document, in the browser's language.
export default function GlobalError(props: { error: Error & { digest?: string }; reset: () => void }) {
  const locale = typeof navigator !== "undefined" && navigator.language.startsWith("zh") ? "zh-CN" : "en";
  return (
    <html lang={locale} data-theme="system" data-density="comfortable">
      <body>
        <Providers locale={locale}>
          <PageError {...props} />
        </Providers>
      </body>
    </html>
  );
}
