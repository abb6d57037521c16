/*
 * A stand-in for Windows' bcryptprimitives.dll for wine 8.0, which lacks it.
 *
 * Programs built by current Rust (std's random source for HashMap keys) import
 * ProcessPrng from bcryptprimitives.dll and do not start without it. This DLL
 * exports ProcessPrng and fills the buffer from RtlGenRandom (advapi32's
 * SystemFunction036), which wine implements over the host's /dev/urandom.
 * Test-only: built and installed into the wine prefix by scripts/wine-setup.sh.
 */
#include <windows.h>

typedef BOOLEAN(WINAPI *gen_random_fn)(PVOID, ULONG);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    static gen_random_fn gen;
    if (!gen) {
        HMODULE advapi = LoadLibraryA("advapi32.dll");
        if (!advapi)
            return FALSE;
        gen = (gen_random_fn)GetProcAddress(advapi, "SystemFunction036");
        if (!gen)
            return FALSE;
    }
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!gen(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
    (void)inst;
    (void)reason;
    (void)reserved;
    return TRUE;
}
