"use client";
import { signIn } from "next-auth/react";
import { useRouter } from "next/navigation";
import { type FormEvent, useId, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { safeCallback } from "./safe-callback";

export function SignInForm({ callbackUrl }: { callbackUrl?: string }) {
  const { t } = useTranslation("auth");
  const router = useRouter();
  const id = useId();
  const emailRef = useRef<HTMLInputElement>(null);
  const passwordRef = useRef<HTMLInputElement>(null);
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<{ email?: string; password?: string }>({});

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const email = String(form.get("email") ?? "").trim();
    const password = String(form.get("password") ?? "");
    const errors = {
      email: email ? undefined : t("signIn.emailRequired"),
      password: password ? undefined : t("signIn.passwordRequired"),
    };
    setFieldErrors(errors);
    if (errors.email) return emailRef.current?.focus();
    if (errors.password) return passwordRef.current?.focus();
    setPending(true);
    setError(null);
    try {
      const result = await signIn("password", { email, password, redirect: false });
      if (result?.ok && !result.error) {
        router.replace(safeCallback(callbackUrl, window.location.origin));
        router.refresh();
        return;
      }
      setError(result?.error === "CredentialsSignin" ? t("signIn.failed") : t("signIn.error"));
      passwordRef.current?.select();
    } catch {
      setError(t("signIn.error"));
    } finally {
      setPending(false);
    }
  }

  return (
    // method="post": should the script not have loaded, a native submit must never put the
    // password into the URL (and so into logs and history).
    <form method="post" onSubmit={onSubmit} noValidate aria-describedby={error ? `${id}-error` : undefined}>
      {error ? (
        <p id={`${id}-error`} role="alert" className="alert">
          {error}
        </p>
      ) : null}
      <div className="field">
        <label htmlFor={`${id}-email`}>{t("signIn.email")}</label>
        <input
          ref={emailRef}
          id={`${id}-email`}
          name="email"
          type="email"
          autoComplete="username"
          required
          // biome-ignore lint/a11y/noAutofocus: the sign-in page holds one form; starting in it is what users expect
          autoFocus
          aria-invalid={fieldErrors.email ? true : undefined}
          aria-describedby={fieldErrors.email ? `${id}-email-error` : undefined}
        />
        {fieldErrors.email ? (
          <span id={`${id}-email-error`} className="field-error">
            {fieldErrors.email}
          </span>
        ) : null}
      </div>
      <div className="field">
        <label htmlFor={`${id}-password`}>{t("signIn.password")}</label>
        <input
          ref={passwordRef}
          id={`${id}-password`}
          name="password"
          type="password"
          autoComplete="current-password"
          required
          aria-invalid={fieldErrors.password ? true : undefined}
          aria-describedby={fieldErrors.password ? `${id}-password-error` : undefined}
        />
        {fieldErrors.password ? (
          <span id={`${id}-password-error`} className="field-error">
            {fieldErrors.password}
          </span>
        ) : null}
      </div>
      <button type="submit" className="button primary" disabled={pending}>
        {pending ? t("signIn.submitting") : t("signIn.submit")}
      </button>
    </form>
  );
}
