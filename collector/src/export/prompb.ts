// The remote_write 1.0 wire format: Prometheus' prompb WriteRequest (remote.proto, types.proto) as a protobufjs
// descriptor, encoded and then snappy-compressed in the block format (not the framed/stream format).
import type { Type } from 'protobufjs';

interface Codec {
  snappy: (typeof import('snappyjs'))['default'];
  WriteRequest: Type;
}

let codec: Promise<Codec> | undefined;

/** protobufjs and snappyjs, loaded when remote_write first sends: not at start, where most collectors export nothing. */
function load(): Promise<Codec> {
  return (codec ??= Promise.all([import('protobufjs'), import('snappyjs')]).then(([{ default: protobuf }, { default: snappy }]) => {
    // Field numbers as in prometheus/prompb/types.proto and remote.proto; fields rexmon never sends are left out.
    const root = protobuf.Root.fromJSON({
      nested: {
        prometheus: {
          nested: {
            WriteRequest: { fields: { timeseries: { rule: 'repeated', type: 'TimeSeries', id: 1 } } },
            TimeSeries: {
              fields: { labels: { rule: 'repeated', type: 'Label', id: 1 }, samples: { rule: 'repeated', type: 'Sample', id: 2 } },
            },
            Label: { fields: { name: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } } },
            Sample: { fields: { value: { type: 'double', id: 1 }, timestamp: { type: 'int64', id: 2 } } },
          },
        },
      },
    });
    return { snappy, WriteRequest: root.lookupType('prometheus.WriteRequest') };
  }));
}

export interface PromLabel {
  name: string;
  value: string;
}
export interface PromTimeSeries {
  /** Sorted by name, `__name__` among them. */
  labels: PromLabel[];
  /** In time order; timestamp in milliseconds. */
  samples: { value: number; timestamp: number }[];
}

/** The HTTP body of one remote_write request. */
export async function encodeWriteRequest(timeseries: PromTimeSeries[]): Promise<Uint8Array<ArrayBuffer>> {
  const { snappy, WriteRequest } = await load();
  // A copy into a plain ArrayBuffer, which fetch() takes as a body (the compressed size, small).
  return new Uint8Array(snappy.compress(WriteRequest.encode({ timeseries }).finish()));
}

/** The inverse, for tests and the bench. */
export async function decodeWriteRequest(body: Uint8Array): Promise<{ timeseries: PromTimeSeries[] }> {
  const { snappy, WriteRequest } = await load();
  const msg = WriteRequest.decode(snappy.uncompress(body));
  return WriteRequest.toObject(msg, { longs: Number, defaults: true }) as { timeseries: PromTimeSeries[] };
}
