// `fetch` and `JSON` as one route of the OpenAPI document sees them, for tsc only (never run).
//
// The reference page's functions call the global `fetch` and `JSON.stringify`, which know
// nothing of the API. tests/js/test_types.py places each function, its text unchanged, where
// these two names are its route's: `fetch(...).json()` resolves to the body the document
// gives the route's successful answers, and `JSON.stringify` takes only the route's request
// body (an object literal with a field the route does not take, or without one it requires,
// does not compile).

import type { paths } from '../../app/dashboard/static/client/datasync-api';

type Path = keyof paths;
type Method = 'get' | 'put' | 'post' | 'delete' | 'patch';

/** The methods the document gives `P` (the others are `?: never` in the generated types). */
export type MethodOf<P extends Path> = {
  [M in Method]-?: undefined extends paths[P][M] ? never : M;
}[Method];

type Operation<P extends Path, M extends MethodOf<P>> = NonNullable<paths[P][M]>;

type JsonContent<T> = T extends { content: { 'application/json': infer Body } } ? Body : never;

/** The union of the JSON bodies of the operation's 2xx answers. */
type SuccessBody<Op> = Op extends { responses: infer Responses }
  ? {
      [Status in keyof Responses]: `${Status & number}` extends `2${string}`
        ? JsonContent<Responses[Status]>
        : never;
    }[keyof Responses]
  : never;

type RequestBody<Op> = Op extends { requestBody?: infer Body } ? JsonContent<NonNullable<Body>> : never;

/** A request body serialised by the route's `JSON.stringify`: text that remembers its type. */
export type JsonText<Body> = string & { readonly jsonOf: Body };

type MethodInit<M extends Method> = M extends 'get' ? { method?: 'GET' } : { method: Uppercase<M> };
type BodyInit<Body> = [Body] extends [never] ? { body?: undefined } : { body: JsonText<Body> };

export type RouteInit<P extends Path, M extends MethodOf<P>> = MethodInit<M> &
  BodyInit<RequestBody<Operation<P, M>>> & { headers?: Record<string, string> };

/** What the page's functions use of a `Response`. */
export interface RouteResponse<Body> {
  readonly ok: boolean;
  readonly status: number;
  json(): Promise<Body>;
}

export type RouteFetch<P extends Path, M extends MethodOf<P>> = (
  url: string,
  init: RouteInit<P, M>,
) => Promise<RouteResponse<SuccessBody<Operation<P, M>>>>;

export interface RouteJSON<P extends Path, M extends MethodOf<P>> {
  stringify(body: RequestBody<Operation<P, M>>): JsonText<RequestBody<Operation<P, M>>>;
}

/** The route's `fetch` and `JSON`; a path or method the document lacks does not compile. */
export declare function route<P extends Path, M extends MethodOf<P>>(
  path: P,
  method: M,
): { fetch: RouteFetch<P, M>; JSON: RouteJSON<P, M> };
