// The API's tokens from the config: given directly (api.token, or WEFT_API_TOKEN) or in a
// file (api.tokenFile, or WEFT_API_TOKEN_FILE). Read at start-up and whenever the API starts.
import type { Config } from './config.js';
import { readSecretFile } from './secret-file.js';

export interface ApiTokens {
  token?: string;
  readToken?: string;
  /** Files others can read, to log. */
  warnings: string[];
}

/** Throws a SecretFileError (or an Error) with one line to show the operator. */
export function resolveApiTokens(api: Config['api']): ApiTokens {
  const warnings: string[] = [];
  const one = (direct: string, file: string, key: string): string | undefined => {
    if (direct && file)
      throw new Error(`api.${key} and api.${key}File are both set; keep one (the file: flags show in ps)`);
    if (!file) return direct || undefined;
    const s = readSecretFile(file, `api.${key}File`);
    if (s.warning) warnings.push(s.warning);
    return s.value;
  };
  const token = one(api.token, api.tokenFile, 'token');
  const readToken = one(api.readToken, api.readTokenFile, 'readToken');
  if (readToken && !token)
    throw new Error('api.readToken is set without api.token: a read-only token needs a write token beside it');
  if (readToken && readToken === token)
    throw new Error('api.readToken is the same as api.token; give the read-only token its own value');
  return { token, readToken, warnings };
}
