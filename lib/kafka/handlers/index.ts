/** Every API the server serves, by key; protocol/versions.ts says which versions of each. */
import { apiVersionsHandler } from './api-versions';
import type { ApiHandler } from './handler';
import { metadataHandler } from './metadata';

export const HANDLERS: ReadonlyMap<number, ApiHandler> = new Map<number, ApiHandler>([apiVersionsHandler, metadataHandler].map((h) => [h.key, h]));
