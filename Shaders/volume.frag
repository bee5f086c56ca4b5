#version 300 es
// Direct volume rendering: a ray from the eye through each pixel, marched front to back through
// the volume in texture space, one sample per voxel crossed along the ray's main axis; values
// mapped through a transfer function (1D texture), shaded by the gradient (headlight), stopped
// once nearly opaque or at the opaque surfaces drawn before (depth-correct hybrid rendering).
precision highp float;
precision highp sampler3D;

in vec2 ndc;
in vec4 nearPoint, farPoint;        // this pixel's points on the near and far planes (homogeneous, patient)

uniform sampler3D volume;           // values (HU for CT) / the texture's scale, linear filtering
uniform sampler2D transfer;         // 256×1 RGBA: colour and opacity per normalised value
uniform sampler3D occupancy;        // per brick of voxels: 0 where the transfer function can be seen, else r/255:
                                    // the bricks less than r away along each axis are all empty
uniform sampler2D entryDepth;       // depth of the first visible brick's face (1 where none)
uniform sampler2D surfaceDepth;     // depth of the opaque surfaces (1 where none)
uniform sampler2D surfaceColour;    // the opaque surfaces over the background
uniform vec3 dimensions;            // voxels along each axis
uniform float brickSize;            // voxels per brick side
uniform mat4 viewProjection;        // patient (mm) → clip
uniform mat4 patientToTexture;      // patient (mm) → texture coordinates [0, 1]³
uniform mat3 gradientToPatient;     // voxel-index gradient → patient gradient (per mm)
uniform vec3 textureStep;           // one voxel in texture coordinates (gradient offsets)
uniform vec2 valueRange;            // texture values mapped to 0 and 1 in the transfer function
uniform int maxSteps;
uniform sampler3D gradients;        // RGBA8: patient-space gradient direction × weight, 128 + 127·x
                                    // (unused where GRADIENTS_ON_THE_FLY is defined: six fetches of `volume`)

out vec4 fragment;

float valueAt(vec3 t) { return texture(volume, t).r; }

vec4 classify(float v) {
    float x = clamp((v - valueRange.x) / (valueRange.y - valueRange.x), 0.0, 1.0);
    return texture(transfer, vec2(x, 0.5));
}

// Window depth [0, 1] of a patient point.
float depthOf(vec3 p) {
    vec4 clip = viewProjection * vec4(p, 1.0);
    return clamp(clip.z / clip.w * 0.5 + 0.5, 0.0, 1.0);
}

// Distance (mm) from `start` along `direction` of the point at window depth `depth` of this pixel
// (clip z = 2·depth − 1, a mix of the near and far points).
float distanceAtDepth(float depth, vec3 start, vec3 direction) {
    vec4 p = mix(nearPoint, farPoint, depth);
    return dot(p.xyz / p.w - start, direction);
}

// The brick of a point (points in the half voxel beyond the outer voxels' centres, which read
// those voxels, belong to the outer bricks).
vec3 brickOf(vec3 p) {
    return clamp(floor((p * dimensions - 0.5) / brickSize), vec3(0.0), vec3(textureSize(occupancy, 0) - 1));
}

bool occupied(vec3 p) {
    return texelFetch(occupancy, ivec3(brickOf(p)), 0).r == 0.0;
}

void main() {
    vec2 uv = ndc * 0.5 + 0.5;
    vec4 behind = texture(surfaceColour, uv);
    float stopDepth = texture(surfaceDepth, uv).r;
    float entry = texture(entryDepth, uv).r;
    vec3 start = nearPoint.xyz / nearPoint.w, end = farPoint.xyz / farPoint.w;
    vec3 direction = normalize(end - start);
    // Ray in texture space, one step per voxel along its main axis; clipped to the unit box.
    vec3 perMM = (patientToTexture * vec4(direction, 0.0)).xyz;
    vec3 voxelsPerMM = abs(perMM * dimensions);
    float stepMM = 1.0 / max(max(voxelsPerMM.x, voxelsPerMM.y), voxelsPerMM.z);
    float opacityExponent = stepMM / 0.5;  // table opacities are per half millimetre
    vec3 origin = (patientToTexture * vec4(start, 1.0)).xyz;
    vec3 step = perMM * stepMM;
    vec3 inverseStep = 1.0 / (step + vec3(1e-12));
    vec3 t0 = (vec3(0.0) - origin) * inverseStep, t1 = (vec3(1.0) - origin) * inverseStep;
    float enter = max(max(max(min(t0.x, t1.x), min(t0.y, t1.y)), min(t0.z, t1.z)), 0.0);
    float leave = min(min(max(t0.x, t1.x), max(t0.y, t1.y)), max(t0.z, t1.z));
    if (stopDepth < 1.0) leave = min(leave, distanceAtDepth(stopDepth, start, direction) / stepMM);
    vec4 colour = vec4(0.0);
    float hitDepth = stopDepth;
    // Start at the first visible brick (from the bricks' depth pass), on the ray's sample grid,
    // or where the ray enters the box if that point is already in one (eye inside the volume).
    float s = enter;
    if (!occupied(origin + step * enter)) {
        s = entry < 1.0 ? enter + max(floor(distanceAtDepth(entry, start, direction) / stepMM - enter) - 1.0, 0.0) : leave + 1.0;
    }
    float brickExit = -1.0;
    for (int i = 0; i < maxSteps && s <= leave; ++i, s += 1.0) {
        vec3 p = origin + step * s;
        if (s > brickExit) {
            // Entering another brick: where the ray leaves it, or the cube of empty bricks around
            // it; jump there if it is empty.
            vec3 cell = brickOf(p);
            float reach = max(floor(texelFetch(occupancy, ivec3(cell), 0).r * 255.0 + 0.5) - 1.0, -1.0);
            vec3 low = ((cell - max(reach, 0.0)) * brickSize + 0.5) / dimensions;
            vec3 high = ((cell + 1.0 + max(reach, 0.0)) * brickSize + 0.5) / dimensions;
            vec3 a = (low - origin) * inverseStep, b = (high - origin) * inverseStep;
            brickExit = min(min(max(a.x, b.x), max(a.y, b.y)), max(a.z, b.z));
            if (reach >= 0.0) {
                // Stay on the ray's sample grid: the next sample is the first one past the exit.
                s += max(ceil(brickExit - s), 1.0) - 1.0;
                continue;
            }
        }
        vec4 sampleColour = classify(valueAt(p));
        // Shaded by the gradient: stored per voxel, or central differences here (forward ones, or
        // the four-fetch tetrahedron form, are cheaper but visibly biased on sharp edges and thick slices).
        if (sampleColour.a > 0.002) {
#ifdef GRADIENTS_ON_THE_FLY
            vec3 g = gradientToPatient * vec3(
                valueAt(p + vec3(textureStep.x, 0.0, 0.0)) - valueAt(p - vec3(textureStep.x, 0.0, 0.0)),
                valueAt(p + vec3(0.0, textureStep.y, 0.0)) - valueAt(p - vec3(0.0, textureStep.y, 0.0)),
                valueAt(p + vec3(0.0, 0.0, textureStep.z)) - valueAt(p - vec3(0.0, 0.0, textureStep.z)));
            const float smallest = 1e-6;
#else
            vec3 g = texture(gradients, p).xyz * (255.0 / 127.0) - 128.0 / 127.0;
            const float smallest = 0.5 / 127.0;
#endif
            float lit = 0.3;
            if (length(g) > smallest) lit += 0.7 * abs(dot(normalize(g), direction));
            float a = 1.0 - pow(1.0 - min(sampleColour.a, 0.999), opacityExponent);
            colour.rgb += (1.0 - colour.a) * a * sampleColour.rgb * lit;
            float before = colour.a;
            colour.a += (1.0 - colour.a) * a;
            if (before < 0.5 && colour.a >= 0.5) hitDepth = depthOf(start + direction * (s * stepMM));
            if (colour.a > 0.98) break;
        }
    }
    fragment = vec4(colour.rgb + (1.0 - colour.a) * behind.rgb, 1.0);
    gl_FragDepth = hitDepth;
}
