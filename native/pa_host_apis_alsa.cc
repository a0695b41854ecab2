// PortAudio's table of host APIs for the prebuilt Linux addon: ALSA only.
//
// Debian's libportaudio.a holds the ALSA, JACK and OSS back ends, and its own table (pa_unix_hostapis.o) names all
// three, so linking it would pull in pa_jack.o and with it a dependency on libjack. This file defines the table's
// symbol instead; the linker then never takes pa_unix_hostapis.o (nor pa_jack.o, nor pa_unix_oss.o) from the archive.
// Compiled only into the static build (binding.gyp, portaudio_static=1). `nm` on the .node shows no PaJack_ symbol.
#include <portaudio.h>

extern "C" {

// Declared as in PortAudio's internal pa_hostapi.h (not installed): the representation is opaque here.
struct PaUtilHostApiRepresentation;
typedef PaError PaUtilHostApiInitializer(PaUtilHostApiRepresentation**, PaHostApiIndex);

PaError PaAlsa_Initialize(PaUtilHostApiRepresentation** hostApi, PaHostApiIndex index);

// Read by Pa_Initialize (pa_front.c) on the thread that initialises PortAudio; the list ends with a null entry.
// Hidden: PortAudio inside the addon needs it, nothing outside does.
__attribute__((visibility("hidden"))) PaUtilHostApiInitializer* paHostApiInitializers[] = {PaAlsa_Initialize, nullptr};

}  // extern "C"
