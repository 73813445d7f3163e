// Calls to the console API: same-origin, cookie session, CSRF token in a header on every state change.

let csrfToken = null;
let onSignedOut = null;

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || `Request failed (${status})`);
    this.status = status;
    this.code = code;
  }
}

export function setCsrfToken(token) { csrfToken = token; }
export function whenSignedOut(callback) { onSignedOut = callback; }

export async function request(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (csrfToken && method !== 'GET') headers['X-CSRF-Token'] = csrfToken;
  const response = await fetch(`api/${path}`, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = {};
  try { data = await response.json(); } catch { data = {}; }
  if (!response.ok) {
    if (response.status === 401 && path !== 'session' && onSignedOut) onSignedOut(data.Message);
    throw new ApiError(response.status, data.Code, data.Message);
  }
  return data;
}

export const op = (name, params = {}) => request('POST', `op/${name}`, params);

// An image File as Rekognition's Image member ({"Bytes": base64}); the bytes stay in this page only.
export async function imageParam(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = '';
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  return { Bytes: btoa(binary) };
}
