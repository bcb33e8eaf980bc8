package io.freqfusion.tornado;

import org.junit.jupiter.api.Test;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.annotations.Parallel;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** A kernel TornadoVM cannot compile must fail loudly, not run as sequential Java (tornado.recover.bailout=False). */
class BailoutTest {
    /** Throwing is not supported inside kernels: TornadoVM bails out when compiling this. */
    public static void bad(FloatArray a, FloatArray c) {
        for (@Parallel int i = 0; i < c.getSize(); i++) {
            if (a.get(i) < 0) {
                throw new IllegalStateException("negative input");
            }
            c.set(i, a.get(i) * 2);
        }
    }

    @Test
    void bailoutIsAnError() throws Exception {
        Class.forName("io.freqfusion.tornado.TornadoBackend"); // sets tornado.recover.bailout=False before TornadoVM starts
        assertEquals("False", System.getProperty("tornado.recover.bailout"));
        FloatArray a = new FloatArray(64), c = new FloatArray(64);
        a.init(1.5f);
        // TornadoVM may reject the kernel when the task is added (sketch) or when the plan runs: either must throw
        assertThrows(RuntimeException.class, () -> {
            TaskGraph tg = new TaskGraph("bailout").transferToDevice(DataTransferMode.EVERY_EXECUTION, a)
                    .task("t", BailoutTest::bad, a, c).transferToHost(DataTransferMode.EVERY_EXECUTION, c);
            try (TornadoExecutionPlan plan = new TornadoExecutionPlan(tg.snapshot())) {
                plan.withDevice(TornadoExecutionPlan.getDevice(0, 0));
                plan.execute();
            }
        }, "bailout must not fall back to Java");
        assertEquals(0f, c.get(0), "no sequential-Java result was produced");
    }
}
