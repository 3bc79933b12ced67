import "server-only";
import type { AuthOptions } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";
import { getAuthSecret } from "@/server/env";
import { auditSignIn, auditSignOut, authenticateWithPassword } from "./service";

// SSO (OIDC) providers, MFA and API tokens arrive with the user-center issue: they plug in as
// more providers here and more checks in authenticateWithPassword's callers.
export function getAuthOptions(): AuthOptions {
  return {
    secret: getAuthSecret(),
    session: { strategy: "jwt", maxAge: 12 * 60 * 60 },
    pages: { signIn: "/sign-in", error: "/sign-in" },
    providers: [
      CredentialsProvider({
        id: "password",
        name: "Email and password",
        credentials: {
          email: { label: "Email", type: "email" },
          password: { label: "Password", type: "password" },
        },
        authorize: async (credentials) => {
          const actor = await authenticateWithPassword(credentials ?? {});
          return actor ? { id: actor.id, email: actor.email, name: actor.name } : null;
        },
      }),
    ],
    callbacks: {
      jwt: ({ token, user }) => {
        if (user) token.sub = user.id;
        return token;
      },
      session: ({ session, token }) => {
        if (session.user && token.sub) (session.user as { id?: string }).id = token.sub;
        return session;
      },
      redirect: ({ url, baseUrl }) => {
        // Only same-origin targets: an open redirect after sign-in is a phishing tool.
        if (url.startsWith("/")) return `${baseUrl}${url}`;
        try {
          if (new URL(url).origin === baseUrl) return url;
        } catch {
          // fall through
        }
        return baseUrl;
      },
    },
    events: {
      signIn: async ({ user, account }) => {
        await auditSignIn(user.id, account?.provider ?? "password");
      },
      signOut: async ({ token }) => {
        if (token?.sub) await auditSignOut(token.sub);
      },
    },
  };
}
