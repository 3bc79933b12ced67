import { apiHandler } from "@/server/http/api-handler";
import { AppError } from "@/server/http/errors";

// Unknown API paths answer problem+json 404 (not the HTML 404 page), whatever the method.
const notFound = apiHandler({
  route: "/api/[...path]",
  auth: "public",
  handler: async ({ request }) => {
    throw new AppError("NOT_FOUND", `No API route ${request.method} ${new URL(request.url).pathname}`);
  },
});

export { notFound as GET, notFound as POST, notFound as PUT, notFound as PATCH, notFound as DELETE };
