// Parser for the Python-literal subset found in GlobalOpinionQA cells (repr of lists, dicts, defaultdict); never eval.

/** Dicts are Maps so that keys such as "__proto__" or "constructor" stay plain data. */
export type PyValue = null | boolean | number | string | PyValue[] | Map<string, PyValue>;

export class PyParseError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at offset ${offset}`);
    this.name = 'PyParseError';
  }
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  n: '\n',
  t: '\t',
  r: '\r',
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
  '0': '\0',
};

const NAMES: Record<string, PyValue> = {
  None: null,
  True: true,
  False: false,
  nan: NaN,
  inf: Infinity,
  NaN: NaN,
};

class Parser {
  private pos = 0;

  constructor(private readonly src: string) {}

  parseAll(): PyValue {
    const value = this.value();
    this.ws();
    if (this.pos < this.src.length) this.fail(`unexpected ${JSON.stringify(this.src[this.pos])} after the value`);
    return value;
  }

  private fail(message: string): never {
    throw new PyParseError(message, this.pos);
  }

  private ws(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos])) this.pos++;
  }

  private expect(ch: string): void {
    this.ws();
    if (this.src[this.pos] !== ch) {
      const got = this.pos < this.src.length ? JSON.stringify(this.src[this.pos]) : 'end of input';
      this.fail(`expected ${JSON.stringify(ch)}, got ${got}`);
    }
    this.pos++;
  }

  private value(): PyValue {
    this.ws();
    if (this.pos >= this.src.length) this.fail('unexpected end of input');
    const ch = this.src[this.pos];
    if (ch === "'" || ch === '"') return this.string();
    if (ch === '[') return this.sequence('[', ']');
    if (ch === '(') return this.sequence('(', ')');
    if (ch === '{') return this.dict();
    if (ch === '-' || ch === '+' || ch === '.' || (ch >= '0' && ch <= '9')) return this.number();
    if (/[A-Za-z_]/.test(ch)) return this.name();
    return this.fail(`unexpected ${JSON.stringify(ch)}`);
  }

  private identifier(): string {
    const start = this.pos;
    while (this.pos < this.src.length && /[A-Za-z0-9_.]/.test(this.src[this.pos])) this.pos++;
    return this.src.slice(start, this.pos);
  }

  private name(): PyValue {
    const start = this.pos;
    const id = this.identifier();
    if (id === 'defaultdict' || id === 'collections.defaultdict') return this.defaultdict();
    if (id === 'OrderedDict' || id === 'collections.OrderedDict') return this.orderedDict();
    if (Object.prototype.hasOwnProperty.call(NAMES, id)) return NAMES[id];
    this.pos = start;
    return this.fail(`unknown name ${JSON.stringify(id)}`);
  }

  /** `defaultdict(<class 'list'>, {...})`: the factory is irrelevant to the data, only the dict matters. */
  private defaultdict(): Map<string, PyValue> {
    this.expect('(');
    this.ws();
    if (this.src[this.pos] === '<') {
      const end = this.src.indexOf('>', this.pos);
      if (end === -1) this.fail('unterminated <class ...> in defaultdict');
      this.pos = end + 1;
    } else if (this.src[this.pos] !== ')') {
      // A bare factory name such as `list` or `None`.
      this.ws();
      const id = this.identifier();
      if (id === '') this.fail('expected a factory in defaultdict(...)');
    }
    this.ws();
    let dict = new Map<string, PyValue>();
    if (this.src[this.pos] === ',') {
      this.pos++;
      this.ws();
      if (this.src[this.pos] !== ')') {
        const d = this.value();
        if (!(d instanceof Map)) this.fail('defaultdict(...) needs a dict as its second argument');
        dict = d;
        this.ws();
        if (this.src[this.pos] === ',') this.pos++;
      }
    }
    this.expect(')');
    return dict;
  }

  /** `OrderedDict([('a', 1), ...])`. */
  private orderedDict(): Map<string, PyValue> {
    this.expect('(');
    this.ws();
    const dict = new Map<string, PyValue>();
    if (this.src[this.pos] !== ')') {
      const items = this.value();
      if (!Array.isArray(items)) this.fail('OrderedDict(...) needs a list of pairs');
      for (const item of items) {
        if (!Array.isArray(item) || item.length !== 2) this.fail('OrderedDict(...) needs (key, value) pairs');
        dict.set(keyString(item[0], this.pos), item[1]);
      }
    }
    this.expect(')');
    return dict;
  }

  private sequence(open: string, close: string): PyValue[] {
    this.expect(open);
    const out: PyValue[] = [];
    for (;;) {
      this.ws();
      if (this.src[this.pos] === close) {
        this.pos++;
        return out;
      }
      out.push(this.value());
      this.ws();
      const ch = this.src[this.pos];
      if (ch === ',') this.pos++;
      else if (ch !== close) this.fail(`expected "," or ${JSON.stringify(close)}`);
    }
  }

  private dict(): Map<string, PyValue> {
    this.expect('{');
    const out = new Map<string, PyValue>();
    for (;;) {
      this.ws();
      if (this.src[this.pos] === '}') {
        this.pos++;
        return out;
      }
      const keyPos = this.pos;
      const key = this.value();
      this.expect(':');
      const value = this.value();
      out.set(keyString(key, keyPos), value);
      this.ws();
      const ch = this.src[this.pos];
      if (ch === ',') this.pos++;
      else if (ch !== '}') this.fail('expected "," or "}"');
    }
  }

  private number(): number {
    const start = this.pos;
    let sign = 1;
    if (this.src[this.pos] === '-' || this.src[this.pos] === '+') {
      if (this.src[this.pos] === '-') sign = -1;
      this.pos++;
      this.ws();
      // -inf / -nan are how Python prints those floats.
      if (/[A-Za-z]/.test(this.src[this.pos] ?? '')) {
        const id = this.identifier();
        if (id === 'inf') return sign * Infinity;
        if (id === 'nan') return NaN;
        this.pos = start;
        this.fail(`bad number ${JSON.stringify(id)}`);
      }
    }
    const m = /^(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?/.exec(this.src.slice(this.pos));
    if (!m) {
      this.pos = start;
      return this.fail('bad number');
    }
    this.pos += m[0].length;
    // A trailing letter (e.g. 12abc or 1j) would otherwise be reported confusingly by the caller.
    if (/[A-Za-z_]/.test(this.src[this.pos] ?? '')) this.fail('bad number');
    const n = Number(m[0].replace(/_/g, ''));
    if (Number.isNaN(n)) {
      this.pos = start;
      this.fail('bad number');
    }
    return sign * n;
  }

  private string(): string {
    const quote = this.src[this.pos];
    this.pos++;
    let out = '';
    for (;;) {
      if (this.pos >= this.src.length) this.fail('unterminated string');
      const ch = this.src[this.pos];
      if (ch === quote) {
        this.pos++;
        break;
      }
      if (ch === '\n') this.fail('newline in string');
      if (ch !== '\\') {
        out += ch;
        this.pos++;
        continue;
      }
      this.pos++;
      const esc = this.src[this.pos];
      if (esc === undefined) this.fail('unterminated escape');
      if (esc === 'x' || esc === 'u' || esc === 'U') {
        const len = esc === 'x' ? 2 : esc === 'u' ? 4 : 8;
        const hex = this.src.slice(this.pos + 1, this.pos + 1 + len);
        if (hex.length !== len || !/^[0-9a-fA-F]+$/.test(hex)) this.fail(`bad \\${esc} escape`);
        const code = parseInt(hex, 16);
        if (code > 0x10ffff) this.fail(`bad \\${esc} escape`);
        out += String.fromCodePoint(code);
        this.pos += 1 + len;
      } else if (esc >= '0' && esc <= '7') {
        const m = /^[0-7]{1,3}/.exec(this.src.slice(this.pos, this.pos + 3));
        const digits = m ? m[0] : esc;
        out += String.fromCharCode(parseInt(digits, 8));
        this.pos += digits.length;
      } else if (esc === '\n') {
        // Line continuation inside a string.
        this.pos++;
      } else if (Object.prototype.hasOwnProperty.call(SIMPLE_ESCAPES, esc)) {
        out += SIMPLE_ESCAPES[esc];
        this.pos++;
      } else {
        // Python keeps unknown escapes verbatim, backslash included.
        out += '\\' + esc;
        this.pos++;
      }
    }
    // Adjacent literals concatenate in Python ('a' 'b' == 'ab').
    const save = this.pos;
    this.ws();
    const next = this.src[this.pos];
    if (next === "'" || next === '"') return out + this.string();
    this.pos = save;
    return out;
  }
}

function keyString(key: PyValue, offset: number): string {
  if (typeof key === 'string') return key;
  if (typeof key === 'number' || typeof key === 'boolean' || key === null) return String(key);
  throw new PyParseError('dict keys must be strings or numbers', offset);
}

/** Parses one Python literal; throws PyParseError (with an offset) on anything outside the subset. */
export function parsePyLiteral(src: string): PyValue {
  return new Parser(src).parseAll();
}

/** Python-style repr of a string (single quotes unless the text has ' and no "), used to write GOQA cells. */
export function pyRepr(value: string): string {
  const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of value) {
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += '\\' + quote;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else out += ch;
  }
  return out + quote;
}
