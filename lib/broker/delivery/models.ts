/**
 * The delivery models a group can use, by name: the one table the consumer and the broker look a
 * model up in (nowhere else branches on the model).
 */
import type { DeliveryModel } from '../group/group-state';
import { ackModel } from './ack/ack-delivery';
import type { DeliveryModelImpl } from './delivery';
import { offsetModel } from './offset/offset-delivery';

export const deliveryModels: Readonly<Record<DeliveryModel, DeliveryModelImpl>> = Object.freeze({
  offset: offsetModel,
  ack: ackModel,
});
