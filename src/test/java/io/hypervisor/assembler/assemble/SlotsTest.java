package io.hypervisor.assembler.assemble;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.hypervisor.assembler.stepcache.StepCache;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** A build waiting for another build's claim gives its appliance slot back meanwhile, and takes it again after. */
@Timeout(30)
class SlotsTest {
  @TempDir
  Path tmp;

  @Test
  void aBuildWaitingForAClaimGivesItsSlotToABuildOfAnotherKey() throws Exception {
    StepCache cache = StepCache.open(tmp);
    Slots slots = Slots.of(1);
    StepCache.Claim held = cache.claim("layer-one", () -> { }); // the build making the layer
    slots.take(); // the waiting build's slot, the run's only one
    CountDownLatch waiting = new CountDownLatch(1);
    CompletableFuture<StepCache.Claim> waiter = CompletableFuture.supplyAsync(() -> {
      try {
        return slots.aside(blocking -> cache.claim("layer-one", () -> {
          blocking.run();
          waiting.countDown();
        }));
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    });
    waiting.await();
    assertEquals(1, slots.available(), "given back while it waits");
    slots.take(); // a build of another key runs meanwhile
    held.close(); // the layer is kept: the waiter has its claim, but no slot yet
    Thread.sleep(300);
    assertFalse(waiter.isDone(), "it goes on only with a slot again");
    slots.give(); // the other build ends
    waiter.get(10, TimeUnit.SECONDS).close();
    assertEquals(0, slots.available(), "the waiter holds its slot again");
    slots.give();
    assertEquals(1, slots.available());
  }

  @Test
  void aClaimThatDoesNotWaitKeepsTheSlotAndOneThatFailsTakesItBack() throws Exception {
    Slots slots = Slots.of(2);
    slots.take();
    assertEquals("free", slots.aside(blocking -> "free"));
    assertEquals(1, slots.available());
    assertThrows(IOException.class, () -> slots.aside(blocking -> {
      blocking.run();
      blocking.run(); // told twice, given back once
      assertEquals(2, slots.available());
      throw new IOException("claim failed");
    }));
    assertEquals(1, slots.available(), "the failing build unwinds holding its slot, which its run gives back");
    assertEquals("alone", Slots.NONE.aside(blocking -> {
      blocking.run();
      return "alone";
    }));
    assertThrows(IllegalArgumentException.class, () -> Slots.of(0));
  }
}
