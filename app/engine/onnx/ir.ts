// The in-memory form of an ONNX model. Plain, mutable objects: the codec fills them,
// the builder and rewrites edit them, the codec writes them back. Every field of the
// protobuf that a real model uses has a home here, so a read → write → read round trip
// gives an identical IR.

/** TensorProto.DataType values. */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
  FLOAT4E2M1: 23,
} as const;
export type DataType = (typeof DataType)[keyof typeof DataType];

/** A dimension: a fixed size, a symbolic name (dim_param), or unknown (null). */
export type Dim = number | string | null;

export type TypeInfo =
  | { kind: 'tensor'; elemType: DataType; shape: Dim[] | null; denotation?: string }
  | { kind: 'sparse_tensor'; elemType: DataType; shape: Dim[] | null; denotation?: string }
  | { kind: 'sequence'; elem: TypeInfo | null; denotation?: string }
  | { kind: 'map'; keyType: DataType; value: TypeInfo | null; denotation?: string }
  | { kind: 'optional'; elem: TypeInfo | null; denotation?: string };

export interface ValueInfo {
  name: string;
  type: TypeInfo | null;
  docString?: string;
}

export interface ExternalDataRef {
  location: string;
  offset: number;
  length: number;
  checksum?: string;
}

/**
 * A tensor's payload. Numeric data is always held as little-endian raw bytes (the codec
 * converts the typed repeated fields on read), strings as a list of byte strings.
 */
export type TensorData =
  | { kind: 'raw'; bytes: Uint8Array }
  | { kind: 'strings'; values: Uint8Array[] };

export interface Tensor {
  name: string;
  dataType: DataType;
  dims: number[];
  data: TensorData;
  docString?: string;
  /** Where the data came from or should go when saved with external data. */
  external?: ExternalDataRef;
}

export interface SparseTensor {
  values: Tensor;
  indices: Tensor;
  dims: number[];
}

export type Attribute =
  | { name: string; type: 'float'; value: number; docString?: string }
  | { name: string; type: 'int'; value: bigint; docString?: string }
  | { name: string; type: 'string'; value: Uint8Array; docString?: string }
  | { name: string; type: 'tensor'; value: Tensor; docString?: string }
  | { name: string; type: 'graph'; value: Graph; docString?: string }
  | { name: string; type: 'sparse_tensor'; value: SparseTensor; docString?: string }
  | { name: string; type: 'type_proto'; value: TypeInfo; docString?: string }
  | { name: string; type: 'floats'; value: number[]; docString?: string }
  | { name: string; type: 'ints'; value: bigint[]; docString?: string }
  | { name: string; type: 'strings'; value: Uint8Array[]; docString?: string }
  | { name: string; type: 'tensors'; value: Tensor[]; docString?: string }
  | { name: string; type: 'graphs'; value: Graph[]; docString?: string }
  | { name: string; type: 'sparse_tensors'; value: SparseTensor[]; docString?: string }
  | { name: string; type: 'type_protos'; value: TypeInfo[]; docString?: string }
  /** A reference to an attribute of the enclosing function (ref_attr_name). */
  | { name: string; type: 'ref'; refAttrName: string; refType: number; docString?: string };

export interface Node {
  name: string;
  opType: string;
  /** '' (or 'ai.onnx') is the default ONNX domain. */
  domain: string;
  /** '' marks an omitted optional input/output. */
  inputs: string[];
  outputs: string[];
  attributes: Attribute[];
  docString?: string;
  overload?: string;
  metadataProps?: KeyValue[];
}

export interface KeyValue {
  key: string;
  value: string;
}

export interface TensorAnnotation {
  tensorName: string;
  quantParameterTensorNames: KeyValue[];
}

export interface Graph {
  name: string;
  nodes: Node[];
  initializers: Tensor[];
  sparseInitializers: SparseTensor[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  valueInfo: ValueInfo[];
  quantizationAnnotation: TensorAnnotation[];
  docString?: string;
  metadataProps?: KeyValue[];
}

export interface OpsetImport {
  domain: string;
  version: number;
}

export interface FunctionProto {
  name: string;
  domain: string;
  overload?: string;
  inputs: string[];
  outputs: string[];
  attributes: string[];
  attributeProtos: Attribute[];
  nodes: Node[];
  opsetImports: OpsetImport[];
  valueInfo: ValueInfo[];
  docString?: string;
  metadataProps?: KeyValue[];
}

export interface Model {
  irVersion: number;
  opsetImports: OpsetImport[];
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: bigint;
  docString: string;
  graph: Graph;
  metadataProps: KeyValue[];
  functions: FunctionProto[];
  /** TrainingInfoProto entries, kept as their encoded bytes: we never interpret them. */
  trainingInfo: Uint8Array[];
}

export function emptyGraph(name = 'main'): Graph {
  return {
    name,
    nodes: [],
    initializers: [],
    sparseInitializers: [],
    inputs: [],
    outputs: [],
    valueInfo: [],
    quantizationAnnotation: [],
  };
}

export function emptyModel(opset = 17, graphName = 'main'): Model {
  return {
    irVersion: 8,
    opsetImports: [{ domain: '', version: opset }],
    producerName: 'distillery',
    producerVersion: '0.1.0',
    domain: '',
    modelVersion: 0n,
    docString: '',
    graph: emptyGraph(graphName),
    metadataProps: [],
    functions: [],
    trainingInfo: [],
  };
}

/** The opset version the model imports for a domain ('' and 'ai.onnx' are the same). */
export function opsetVersion(model: Model, domain = ''): number | undefined {
  const want = domain === 'ai.onnx' ? '' : domain;
  return model.opsetImports.find((o) => (o.domain === 'ai.onnx' ? '' : o.domain) === want)?.version;
}

export function tensorValueInfo(name: string, elemType: DataType, shape: Dim[] | null): ValueInfo {
  return { name, type: { kind: 'tensor', elemType, shape } };
}
