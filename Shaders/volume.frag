#version 300 es
// Direct volume rendering: rays from the eye through each pixel, marched front to back through
// the volume's box in texture space; values mapped through a transfer function (1D texture),
// shaded by the gradient (headlight), stopped once nearly opaque.
precision highp float;
precision highp sampler3D;

in vec2 ndc;

uniform sampler3D volume;           // values (HU for CT), linear filtering
uniform sampler2D transfer;         // 256×1 RGBA: colour and opacity per normalised value
uniform sampler3D occupancy;        // per brick of voxels: > 0 where the transfer function can be seen
uniform vec3 dimensions;            // voxels along each axis (bricks are 8³ voxels)
uniform mat4 inverseViewProjection; // clip → patient (mm)
uniform mat4 patientToTexture;      // patient (mm) → texture coordinates [0, 1]³
uniform vec2 valueRange;            // values mapped to 0 and 1 in the transfer function
uniform float stepMM;               // distance between samples along a ray
uniform float opacityExponent;      // stepMM / 0.5 mm: table opacities are per half millimetre
uniform vec3 textureStep;           // one voxel in texture coordinates (gradient offsets)
uniform int maxSteps;
uniform vec4 background;

out vec4 fragment;

float valueAt(vec3 t) { return texture(volume, t).r; }

vec4 classify(float v) {
    float x = clamp((v - valueRange.x) / (valueRange.y - valueRange.x), 0.0, 1.0);
    return texture(transfer, vec2(x, 0.5));
}

void main() {
    vec4 nearPoint = inverseViewProjection * vec4(ndc, -1.0, 1.0);
    vec4 farPoint = inverseViewProjection * vec4(ndc, 1.0, 1.0);
    vec3 start = nearPoint.xyz / nearPoint.w, end = farPoint.xyz / farPoint.w;
    vec3 direction = normalize(end - start);
    // Ray in texture space; clip it to the unit box.
    vec3 origin = (patientToTexture * vec4(start, 1.0)).xyz;
    vec3 step = (patientToTexture * vec4(direction * stepMM, 0.0)).xyz;
    vec3 inverseStep = 1.0 / (step + vec3(1e-12));
    vec3 t0 = (vec3(0.0) - origin) * inverseStep, t1 = (vec3(1.0) - origin) * inverseStep;
    float enter = max(max(min(t0.x, t1.x), min(t0.y, t1.y)), min(t0.z, t1.z));
    float leave = min(min(max(t0.x, t1.x), max(t0.y, t1.y)), max(t0.z, t1.z));
    vec4 colour = vec4(0.0);
    if (leave > max(enter, 0.0)) {
        float s = max(enter, 0.0);
        vec3 viewDirection = -normalize(step);
        for (int i = 0; i < maxSteps && s <= leave; ++i, s += 1.0) {
            vec3 p = origin + step * s;
            // Empty-space skipping: in a brick the transfer function leaves transparent, jump to
            // where the ray leaves that brick.
            vec3 cell = floor((p * dimensions - 0.5) / 8.0);
            if (texelFetch(occupancy, ivec3(cell), 0).r == 0.0) {
                vec3 low = (cell * 8.0 + 0.5) / dimensions, high = ((cell + 1.0) * 8.0 + 0.5) / dimensions;
                vec3 a = (low - origin) * inverseStep, b = (high - origin) * inverseStep;
                float exitAt = min(min(max(a.x, b.x), max(a.y, b.y)), max(a.z, b.z));
                // Stay on the ray's sample grid: the next sample is the first one past the exit.
                s += max(ceil(exitAt - s), 1.0) - 1.0;
                continue;
            }
            vec4 sampleColour = classify(valueAt(p));
            if (sampleColour.a > 0.002) {
                vec3 g = vec3(valueAt(p + vec3(textureStep.x, 0.0, 0.0)) - valueAt(p - vec3(textureStep.x, 0.0, 0.0)),
                              valueAt(p + vec3(0.0, textureStep.y, 0.0)) - valueAt(p - vec3(0.0, textureStep.y, 0.0)),
                              valueAt(p + vec3(0.0, 0.0, textureStep.z)) - valueAt(p - vec3(0.0, 0.0, textureStep.z)));
                float lit = 0.3;
                if (length(g) > 1e-3) lit += 0.7 * abs(dot(normalize(g), viewDirection));
                float a = 1.0 - pow(1.0 - min(sampleColour.a, 0.999), opacityExponent);
                colour.rgb += (1.0 - colour.a) * a * sampleColour.rgb * lit;
                colour.a += (1.0 - colour.a) * a;
                if (colour.a > 0.98) break;
            }
        }
    }
    fragment = vec4(colour.rgb + (1.0 - colour.a) * background.rgb, 1.0);
}
