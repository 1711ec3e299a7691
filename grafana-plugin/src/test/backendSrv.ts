// Records what the plugin asks Grafana's server for (getResource, /api/ds/query) and answers
// from a table: Grafana's backendSrv is part of Grafana core, which cannot run here.
import { BackendSrv, BackendSrvRequest, FetchResponse, setBackendSrv } from '@grafana/runtime';
import { Observable, of, throwError } from 'rxjs';

export interface Recorded {
  url: string;
  params?: Record<string, unknown>;
  data?: unknown;
  method?: string;
}

export function installBackendSrv(answer: (req: Recorded) => unknown) {
  const calls: Recorded[] = [];
  const respond = (req: Recorded): unknown => {
    calls.push(req);
    return answer(req);
  };
  const srv = {
    get: async (url: string, params?: Record<string, unknown>) => {
      const r = respond({ url, params, method: 'GET' });
      if (r instanceof Error) {
        throw { status: 400, data: { message: r.message } };
      }
      return r;
    },
    fetch: <T>(options: BackendSrvRequest): Observable<FetchResponse<T>> => {
      const r = respond({ url: options.url, params: options.params, data: options.data, method: options.method });
      if (r instanceof Error) {
        return throwError(() => ({ status: 400, data: { message: r.message } }));
      }
      return of({
        data: r as T,
        status: 200,
        ok: true,
        headers: new Headers(),
        redirected: false,
        statusText: 'OK',
        type: 'basic',
        url: options.url,
        config: options,
      } as FetchResponse<T>);
    },
  } as unknown as BackendSrv;
  setBackendSrv(srv);
  return calls;
}
