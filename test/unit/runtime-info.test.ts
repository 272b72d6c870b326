import { describe, expect, it } from 'vitest';
import { parseCpuinfo } from '../../app/engine/runtime/info.js';
import { webgpuIsSoftware } from '../../app/engine/runtime/providers.js';

const X86 = `processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz
physical id\t: 0
core id\t\t: 0
flags\t\t: fpu sse4_2 avx f16c fma avx2 avx512f avx512_vnni

processor\t: 1
model name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz
physical id\t: 0
core id\t\t: 0
flags\t\t: fpu sse4_2 avx f16c fma avx2 avx512f avx512_vnni

processor\t: 2
physical id\t: 0
core id\t\t: 1
`;

const OLD_X86 = `model name\t: AMD Ryzen 7 3700X
flags\t\t: fpu sse4_2 avx avx2 fma
`;

const ARM = `processor\t: 0
BogoMIPS\t: 50.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
`;

describe('parseCpuinfo', () => {
  it('reads model, flags and physical cores on x86', () => {
    const p = parseCpuinfo(X86);
    expect(p.model).toBe('Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz');
    expect(p.flags).toMatchObject({ avx2: true, avx512: true, vnni: true, amx: false, neon: false });
    expect(p.physicalCores).toBe(2); // three logical, two distinct cores
  });
  it('reports missing AVX-512 and VNNI as false', () => {
    expect(parseCpuinfo(OLD_X86).flags).toMatchObject({ avx2: true, avx512: false, vnni: false });
  });
  it('reads ARM features', () => {
    const p = parseCpuinfo(ARM);
    expect(p.model).toBeUndefined();
    expect(p.flags).toMatchObject({ neon: true, dotprod: true, avx2: false });
  });
});

describe('webgpuIsSoftware', () => {
  it('recognises a lavapipe ICD and nothing else', () => {
    expect(webgpuIsSoftware({})).toBe(false);
    expect(webgpuIsSoftware({ VK_ICD_FILENAMES: '/x/.cache/lavapipe/lvp_icd.json' })).toBe(true);
    expect(webgpuIsSoftware({ VK_DRIVER_FILES: '/usr/share/vulkan/icd.d/nvidia_icd.json' })).toBe(false);
  });
});
