// snappyjs ships no types: the two calls used here, block format in and out.
declare module 'snappyjs' {
  export function compress<T extends Uint8Array | ArrayBuffer>(input: T): T;
  export function uncompress<T extends Uint8Array | ArrayBuffer>(input: T, maxLength?: number): T;
  const _default: { compress: typeof compress; uncompress: typeof uncompress };
  export default _default;
}
