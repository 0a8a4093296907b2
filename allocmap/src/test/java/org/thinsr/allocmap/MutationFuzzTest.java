package org.thinsr.allocmap;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Seeded random mutations (flipped, inserted, deleted, duplicated bytes) of real tool output: every
 * parser either parses or throws its corruption exception; never anything else (no index out of
 * bounds, no null pointer, no hang).
 */
class MutationFuzzTest {
    private static final byte[] INTERESTING =
            "<>/=\"'&;-!?[]{}:,0123456789\n \u0000x".getBytes(java.nio.charset.StandardCharsets.UTF_8);

    private static byte[] mutate(Random random, byte[] input) {
        byte[] bytes = input.clone();
        int mutations = 1 + random.nextInt(4);
        for (int m = 0; m < mutations; m++) {
            int position = random.nextInt(bytes.length + 1);
            switch (random.nextInt(4)) {
                case 0 -> {
                    if (position < bytes.length) {
                        bytes[position] = INTERESTING[random.nextInt(INTERESTING.length)];
                    }
                }
                case 1 -> {
                    byte[] longer = new byte[bytes.length + 1];
                    System.arraycopy(bytes, 0, longer, 0, position);
                    longer[position] = INTERESTING[random.nextInt(INTERESTING.length)];
                    System.arraycopy(bytes, position, longer, position + 1, bytes.length - position);
                    bytes = longer;
                }
                case 2 -> {
                    if (position < bytes.length) {
                        byte[] shorter = new byte[bytes.length - 1];
                        System.arraycopy(bytes, 0, shorter, 0, position);
                        System.arraycopy(bytes, position + 1, shorter, position, bytes.length - position - 1);
                        bytes = shorter;
                    }
                }
                default -> {
                    int length = Math.min(random.nextInt(40), bytes.length - Math.min(position, bytes.length));
                    byte[] copy = Arrays.copyOfRange(bytes, position, position + length);
                    byte[] longer = new byte[bytes.length + copy.length];
                    System.arraycopy(bytes, 0, longer, 0, position);
                    System.arraycopy(copy, 0, longer, position, copy.length);
                    System.arraycopy(bytes, position, longer, position + copy.length, bytes.length - position);
                    bytes = longer;
                }
            }
        }
        return bytes;
    }

    private static void fuzz(String fixture, StreamVariants.Parser<?> parser, Class<? extends Exception> failure) {
        long seed = System.nanoTime();
        System.out.println("MutationFuzzTest " + fixture + " seed " + seed);
        Random random = new Random(seed);
        byte[] input = Fixtures.bytes(fixture);
        int parsed = 0;
        for (int round = 0; round < 3000; round++) {
            byte[] mutated = mutate(random, input);
            try {
                parser.parse(new ByteArrayInputStream(mutated));
                parsed++;
            } catch (Exception e) {
                assertThat(e)
                        .as(
                                "seed %s round %s: %s",
                                seed, round, new String(mutated, java.nio.charset.StandardCharsets.UTF_8))
                        .isInstanceOf(failure);
                assertThat(e.getMessage()).contains("actual").contains("expected");
            }
        }
        System.out.println("MutationFuzzTest " + fixture + ": " + parsed + " of 3000 mutations still parse");
    }

    @Test
    void mutatedThinDumpParsesOrFailsAsInvalidXml() {
        fuzz("pool-thin_dump-0.9.xml", in -> ThinDumpParser.create().parse(in, "m"), InvalidXmlException.class);
        fuzz("pool-1x-shared.xml", in -> ThinDumpParser.create().parse(in, "m"), InvalidXmlException.class);
    }

    @Test
    void mutatedThinDeltaParsesOrFailsAsInvalidXml() {
        fuzz("pool-thin_delta-1-2.xml", in -> ThinDeltaParser.parse(in, "m"), InvalidXmlException.class);
        fuzz("pool-thin_delta-verbose-1-2.xml", in -> ThinDeltaParser.parse(in, "m"), InvalidXmlException.class);
    }

    @Test
    void mutatedQemuImgMapParsesOrFailsAsCorruptInput() throws IOException {
        fuzz("qemu-img-map-top.json", in -> QemuImgMapParser.parse(in, "m"), CorruptInputException.class);
    }
}
